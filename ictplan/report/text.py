"""The report's words in Vietnamese and English: headings, and each column's label and how it is measured."""

from __future__ import annotations

from .._errors import InputValidationError

LANGS = ("vi", "en")
LEVELS = ("province", "districts", "communes")

_T = {
    "vi": {
        "title": "Báo cáo hạ tầng thông tin và truyền thông",
        "generated": "Lập ngày",
        "synthetic": "Dữ liệu mẫu: hạ tầng là dữ liệu tổng hợp (giả lập), chỉ dùng để minh họa.",
        "contents": "Nội dung",
        "summary": "Tóm tắt toàn tỉnh",
        "scorecard": "Bảng đánh giá chỉ tiêu",
        "province": "Toàn tỉnh",
        "districts": "Theo huyện, thành phố",
        "communes": "Theo xã, phường, thị trấn",
        "charts": "Biểu đồ",
        "maps": "Bản đồ",
        "overview_map": "Bản đồ tổng hợp: dân số, hạ tầng di động, cáp quang, bưu chính",
        "fiber_map": "Cáp quang: tỷ lệ hộ trong tầm cáp quang theo xã và các ấp chưa có cáp",
        "map_note": "Bản đồ tương tác: bật/tắt lớp ở góc phải; di chuột hoặc bấm vào đối tượng để xem số liệu. "
                    "Bản đồ nền trực tuyến chỉ hiện khi có Internet; các lớp dữ liệu luôn hiển thị.",
        "sources": "Nguồn dữ liệu",
        "methods": "Cách đo các chỉ tiêu",
        "layer": "Lớp", "file": "Tệp", "features": "Số đối tượng", "modified": "Ngày cập nhật tệp", "data_date": "Ngày của dữ liệu",
        "indicator": "Chỉ tiêu", "how": "Cách tính",
        "key_figures": "Số liệu chính của nghiên cứu",
        "targets_met": "chỉ tiêu toàn tỉnh đã đạt; {not_met} chưa đạt, {no_data} chưa có dữ liệu",
        "findings": "Kết quả chính",
        "plan": "Cần xây dựng gì",
        "priority": "Các xã còn cách xa mục tiêu nhất",
        "priority_note": "Với mỗi chỉ tiêu chưa đạt ở cấp xã: số xã chưa đạt và ba xã còn thiếu nhiều nhất (theo đơn vị của chỉ tiêu).",
        "ph_target": "Chỉ tiêu", "ph_count": "Số xã chưa đạt", "ph_communes": "Các xã thiếu nhiều nhất",
        "legend": "Màu: xanh = đạt, đỏ = chưa đạt, xám = chưa có dữ liệu, trắng = không áp dụng (chỉ tiêu đánh giá cho toàn tỉnh). Di chuột lên ô để xem chi tiết.",
        "sample_study": "Dữ liệu mẫu",
        "job_coverage": "Vùng phủ di động", "job_fiber": "Cáp quang", "job_sharing": "Dùng chung hạ tầng",
        "job_scorecard": "Bảng chỉ tiêu", "job_sensitivity": "Độ nhạy của các chỉ tiêu di động", "job_plan": "Kế hoạch đầu tư",
        "sensitivity": "Độ nhạy",
        "print_map": "Bản đồ tương tác chỉ xem được trên trình duyệt (không in).",
        "marks": "✓ đạt, ✗ chưa đạt, ? chưa có dữ liệu.",
        "key_figures_note": "Chưa có bảng chỉ tiêu của quy hoạch: bảng dưới đây là các số liệu chính đo trên dữ liệu của nghiên cứu.",
        "study": "Nghiên cứu", "crs": "Hệ tọa độ tính toán", "targets_file": "Tệp chỉ tiêu quy hoạch",
        "by_district": "theo huyện",
        "no_data": "không có",
        "by_commune": "theo xã",
        "skipped": "Chưa có trong báo cáo (phân tích không chạy được)",
        "no_census_raster": "Các xã không có số liệu điều tra dân số (pop2019): dân số và mật độ dưới đây tính trên lưới dân số.",
        "no_census": "Các xã không có số liệu điều tra dân số (pop2019) và nghiên cứu không có lưới dân số: không có số liệu dân số.",
    },
    "en": {
        "title": "ICT infrastructure report",
        "generated": "Generated",
        "synthetic": "Sample data: the infrastructure is synthetic, for illustration only.",
        "contents": "Contents",
        "summary": "Province at a glance",
        "scorecard": "Scorecard",
        "province": "Province",
        "districts": "By district",
        "communes": "By commune",
        "charts": "Charts",
        "maps": "Maps",
        "overview_map": "Overview: people, mobile sites, fiber, postal points",
        "fiber_map": "Fiber: households within reach per commune, and the hamlets not reached",
        "map_note": "Interactive map: switch layers on and off at the top right; hover or click a feature for its figures. "
                    "The online basemap shows only with Internet; the data layers always show.",
        "sources": "Data sources",
        "methods": "How each indicator was measured",
        "layer": "Layer", "file": "File", "features": "Features", "modified": "File date", "data_date": "Data date",
        "indicator": "Indicator", "how": "How it is measured",
        "key_figures": "The study's key figures",
        "targets_met": "province targets met; {not_met} not met, {no_data} no data",
        "findings": "Findings",
        "plan": "What to build",
        "priority": "The communes furthest behind",
        "priority_note": "For each target not met in the communes: how many communes miss it, and the three with the largest gap (in the target's unit).",
        "ph_target": "Target", "ph_count": "Communes not met", "ph_communes": "Largest gaps",
        "legend": "Colours: green = met, red = not met, grey = no data, white = not applicable (judged for the province). Hover a cell for its details.",
        "sample_study": "Sample data",
        "job_coverage": "Mobile coverage", "job_fiber": "Fiber", "job_sharing": "Infrastructure sharing",
        "job_scorecard": "Scorecard", "job_sensitivity": "Sensitivity of the mobile indicators", "job_plan": "Investment plan",
        "sensitivity": "Sensitivity",
        "print_map": "The interactive maps are shown in a browser only (not printed).",
        "marks": "✓ met, ✗ not met, ? no data.",
        "key_figures_note": "No plan scorecard was given: the tables below are the study's key figures measured on its data.",
        "study": "Study", "crs": "Working CRS", "targets_file": "Plan targets file",
        "by_district": "by district",
        "no_data": "none",
        "by_commune": "by commune",
        "skipped": "Not in this report (the analysis could not run)",
        "no_census_raster": "The communes have no census figures (pop2019): people and densities below are counted on the population raster.",
        "no_census": "The communes have no census figures (pop2019) and the study has no population raster: no population figures.",
    },
}

# a study's layer names -> (vi, en)
LAYERS: dict[str, tuple[str, str]] = {
    "communes": ("Ranh giới xã", "Commune boundaries"), "districts": ("Ranh giới huyện", "District boundaries"),
    "hamlets": ("Ấp, khóm", "Hamlets"), "population": ("Lưới dân số", "Population raster"),
    "sites": ("Trạm BTS", "Cell sites"), "cells": ("Trạm theo OpenCelliD", "OpenCelliD cells"),
    "roads": ("Đường giao thông, bờ kênh", "Roads and canal banks"), "fiber_routes": ("Tuyến cáp quang", "Fiber routes"),
    "copper_routes": ("Tuyến cáp đồng", "Copper routes"), "poles": ("Cột treo cáp", "Poles"), "spans": ("Khoảng cột", "Spans"),
    "access_points": ("Điểm truy nhập cáp quang", "Fiber access points"),
    "postal_points": ("Điểm phục vụ bưu chính", "Postal service points"),
    "facilities": ("Cơ quan, trường học, cơ sở y tế", "Agencies, schools, health facilities"),
    "dtt_transmitters": ("Máy phát truyền hình số mặt đất", "DTT transmitters"),
    "households": ("Hộ gia đình", "Households"), "ducts": ("Cống bể cáp", "Ducts"), "towers": ("Cột ăng-ten", "Towers"),
    "landcover": ("Lớp phủ mặt đất", "Land cover"), "elevation": ("Độ cao địa hình", "Elevation"),
    "buildings": ("Công trình, nhà ở", "Buildings"), "substations": ("Trạm biến áp", "Substations"),
    "energy_zones": ("Vùng năng lượng", "Energy zones"), "protected_areas": ("Khu bảo tồn, rừng phòng hộ", "Protected areas"),
}

# column -> (vi label, en label, vi method, en method)
_COLUMNS: dict[str, tuple[str, str, str, str]] = {
    "commune_code": ("Mã xã", "Commune code", "", ""),
    "commune_name": ("Xã, phường, thị trấn", "Commune", "", ""),
    "district_name": ("Huyện, thành phố", "District", "", ""),
    "communes": ("Số xã", "Communes", "Đếm số đơn vị hành chính cấp xã.", "Count of commune-level units."),
    "pop2019": ("Dân số 2019", "People (2019)", "Tổng điều tra dân số 2019 (TCTK), theo xã.",
                "2019 census (GSO), per commune."),
    "hh2019": ("Số hộ 2019", "Households (2019)", "Tổng điều tra dân số 2019 (TCTK), theo xã.",
               "2019 census (GSO), per commune."),
    "pop_raster": ("Dân số (lưới dân số)", "People (population raster)",
                   "Dân số trên lưới dân số, cộng theo tỷ lệ diện tích ô nằm trong ranh giới (dùng khi xã không có số liệu điều tra).",
                   "People on the population raster, summed with each cell's exact share inside the boundary (used where the communes have no census figures)."),
    "area_km2": ("Diện tích (km²)", "Area (km²)",
                 "Diện tích ranh giới xã đầy đủ (không giản lược), đo trong hệ tọa độ UTM 48N.",
                 "Area of the full commune boundary (not the simplified display one), measured in UTM 48N."),
    "density_per_km2": ("Mật độ (người/km²)", "Density (people/km²)", "Dân số 2019 chia cho diện tích.",
                        "People (2019) divided by area."),
    "sites": ("Số trạm BTS", "Cell sites", "Số trạm (site_id) khác nhau nằm trong ranh giới.",
              "Distinct sites (site_id) inside the boundary."),
    "sites_4G": ("Trạm 4G", "4G sites", "Số trạm có ít nhất một sector 4G.", "Sites with at least one 4G sector."),
    "sites_5G": ("Trạm 5G", "5G sites", "Số trạm có ít nhất một sector 5G.", "Sites with at least one 5G sector."),
    "sites_per_10k": ("Trạm/10.000 dân", "Sites per 10,000 people", "Số trạm chia cho dân số, nhân 10.000.",
                      "Sites divided by people, times 10,000."),
    "fiber_km": ("Cáp quang (km)", "Fiber (km)",
                 "Chiều dài tuyến cáp quang của mọi nhà mạng, cắt theo ranh giới, đo trong UTM 48N (tuyến chung hành lang được tính mỗi nhà mạng một lần).",
                 "Length of every operator's fiber routes clipped to the boundary, measured in UTM 48N (routes sharing a corridor count once per operator)."),
    "postal_points": ("Điểm bưu chính", "Postal points", "Số điểm phục vụ bưu chính trong xã (theo mã xã).",
                      "Postal service points in the commune (by commune code)."),
    "postal_staffed": ("Điểm BC có người phục vụ", "Staffed postal points",
                       "Số điểm bưu chính có người phục vụ.", "Postal points with staff."),
    "pct_4g_covered": ("Dân số phủ 4G (%)", "People covered by 4G (%)",
                       "Vùng phủ trạm phục vụ tốt nhất (RSRP ≥ ngưỡng của cấu hình công nghệ), mọi nhà mạng; dân số trên lưới 100 m cộng theo tỷ lệ diện tích ô nằm trong ranh giới.",
                       "Best-server coverage (RSRP at or above the technology profile's threshold), any operator; people on the 100 m grid summed with each cell's exact share inside the boundary."),
    "pct_5g_covered": ("Dân số phủ 5G (%)", "People covered by 5G (%)",
                       "Như 4G, cho các sóng mang 5G.", "As for 4G, for the 5G carriers."),
    "pct_fiber_reachable": ("Hộ trong tầm cáp quang (%)", "Households within reach of fiber (%)",
                            "Hộ gia đình cách tuyến cáp quang không quá giới hạn dây thuê bao, đo theo đường đi trên mạng đường bộ và bờ kênh.",
                            "Households within the drop-cable limit of a fiber route, measured along roads and canal banks (network distance)."),
    "missing_fiber_km": ("Cáp quang còn thiếu (km)", "Fiber still missing (km)",
                         "Tổng chiều dài cáp quang cần kéo thêm để tới các ấp chưa có cáp.",
                         "Total length of fiber still needed to reach the hamlets not reached."),
    "facilities": ("Cơ quan, cơ sở", "Facilities", "Số cơ quan, trường học, trạm y tế... trong xã (theo mã xã).",
                   "Agencies, schools, health stations... in the commune (by commune code)."),
}


def _t(lang: str) -> dict[str, str]:
    if lang not in LANGS:
        msg = f"`lang` must be one of {', '.join(LANGS)}; got {lang!r}."
        raise InputValidationError(msg)
    return _T[lang]


def _label(col: str, lang: str) -> str:
    c = _COLUMNS.get(col)
    return (c[0] if lang == "vi" else c[1]) if c else col
