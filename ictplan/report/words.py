"""The plan's indicators and units in the reader's words (Vietnamese and English).

The indicators' docstrings (:mod:`ictplan.targets.indicators`) are the developers' exact
definitions, in English with code names; a leader reads these instead: what each
indicator measures (a short name that tells similar targets apart) and how it is
measured, with the proxies named, in plain words and without code markup. The drop limit
and the hamlet rule are the run's own parameters, filled in when the text is asked for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# unit as written in the targets file -> (vi, en)
UNITS: dict[str, tuple[str, str]] = {
    "%": ("%", "%"),
    "points": ("điểm", "points"),
    "households": ("hộ", "households"),
    "communes": ("xã", "communes"),
    "hamlets": ("ấp, khóm", "hamlets"),
    "organisations": ("tổ chức", "organisations"),
    "agencies": ("cơ quan", "agencies"),
    "health stations": ("trạm y tế", "health stations"),
    "schools": ("trường học", "schools"),
    "commune offices": ("trụ sở UBND xã", "commune offices"),
    "people": ("người", "people"),
    "pairs": ("cặp trung tâm dữ liệu", "data-centre pairs"),
    "Mb/s": ("Mb/s", "Mb/s"),
    "data centres": ("trung tâm dữ liệu", "data centres"),
    "yes=1": ("(1 = có)", "(1 = yes)"),
}


def unit(u: Any, lang: str) -> str:
    """A unit of the targets file in ``lang`` ("" for none)."""
    if u is None or (isinstance(u, float) and u != u):
        return ""
    pair = UNITS.get(str(u))
    return (pair[0] if lang == "vi" else pair[1]) if pair else str(u)


# indicator -> (vi name, en name, vi how, en how); {drop} and {hamlet_pct} are the run's parameters
_FIBER_VI = ("trong phạm vi {drop} m tính theo đường đi dọc đường bộ và bờ kênh tới tuyến cáp quang gần nhất "
             "(phân tích cáp quang)")
_FIBER_EN = "within {drop} m of a fiber route, measured along roads and canal banks (fiber analysis)"
_MOBILE_VI = ("có sóng 4G hoặc 5G của ít nhất một nhà mạng tại ô lưới chứa cơ sở (mức tín hiệu trạm phục vụ tốt "
              "nhất không thấp hơn ngưỡng của sóng mang; phân tích vùng phủ)")
_MOBILE_EN = ("4G or 5G signal of at least one operator in the facility's grid cell (best-server signal at or above "
              "the carrier's threshold; coverage analysis)")

INDICATORS: dict[str, tuple[str, str, str, str]] = {
    "postal_points_count": (
        "Số điểm phục vụ bưu chính", "Postal service points",
        "Đếm mọi điểm phục vụ bưu chính (có hoặc không có người phục vụ) trong lớp điểm bưu chính, mỗi điểm tính cho "
        "xã theo mã xã (theo vị trí khi không có mã). Số toàn tỉnh là tổng số điểm trong tỉnh.",
        "Every postal service point (staffed or not) in the postal points layer, placed in its commune by commune "
        "code (by location without one). The province figure is the count in the whole province."),
    "communes_staffed_postal_pct": (
        "Xã có điểm bưu chính có người phục vụ", "Communes with a staffed postal point",
        "Tỷ lệ xã có ít nhất một điểm bưu chính có người phục vụ. Phần còn thiếu là số xã chưa có.",
        "Share of communes with at least one staffed postal point. The gap is the number of communes without."),
    "staffed_postal_internet_pct": (
        "Điểm bưu chính có người phục vụ được kết nối Internet", "Staffed postal points with Internet",
        "Tỷ lệ điểm bưu chính có người phục vụ được ghi là có Internet (không ghi: tính là không có).",
        "Share of staffed postal points recorded as connected to the Internet (not recorded: counted as not)."),
    "staffed_postal_online_pct": (
        "Điểm bưu chính hỗ trợ người dân dùng dịch vụ công trực tuyến", "Postal points helping with online public services",
        "Tỷ lệ điểm bưu chính có người phục vụ được ghi là hỗ trợ người dân dùng dịch vụ công trực tuyến "
        "(không ghi: tính là không).",
        "Share of staffed postal points recorded as able to help citizens use online public services "
        "(not recorded: counted as not)."),
    "hamlets_reached_pct": (
        "Ấp, khóm có cáp quang", "Hamlets reached by fiber",
        "Tỷ lệ ấp, khóm có cáp quang: một ấp được tính là có khi ít nhất {hamlet_pct} % số hộ của ấp ở " + _FIBER_VI
        + ". Phần còn thiếu là số ấp chưa có; số km cáp cần kéo thêm đo dọc mạng đường.",
        "Share of hamlets reached: a hamlet is reached when at least {hamlet_pct} % of its households are " + _FIBER_EN
        + ". The gap is the hamlets not reached; the km of new fiber are measured along the network."),
    "hamlets_reached_share_pct": (
        "Ấp, khóm có cáp quang (theo tỷ lệ hộ)", "Hamlets reached by fiber (share of households)",
        "Cách đọc thứ nhất: tỷ lệ ấp, khóm có ít nhất {hamlet_pct} % số hộ ở " + _FIBER_VI
        + ". Phần còn thiếu là số ấp chưa có.",
        "First reading: share of hamlets where at least {hamlet_pct} % of the households are " + _FIBER_EN
        + ". The gap is the hamlets not reached."),
    "hamlets_reached_access_point_pct": (
        "Ấp, khóm có điểm truy nhập cáp quang", "Hamlets holding a fiber access point",
        "Cách đọc thứ hai: tỷ lệ ấp, khóm có điểm truy nhập cáp quang trong ấp (khi nghiên cứu chỉ có tuyến cáp: một "
        "đoạn cáp trong ấp; ấp cho dưới dạng điểm: tâm ấp cách cáp không quá {drop} m). Phần còn thiếu là số ấp chưa có.",
        "Second reading: share of hamlets that hold a fiber access point (with routes only: a fiber stretch in the "
        "hamlet; a hamlet given as a point: its centre within {drop} m). The gap is the hamlets without one."),
    "households_fiber_pct": (
        "Hộ gia đình trong tầm cáp quang", "Households within reach of fiber",
        "Tỷ lệ hộ gia đình ở " + _FIBER_VI + ", tính cả đoạn từ nhà tới đường. Số hộ lấy từ lớp điểm hộ gia đình, "
        "hoặc ước tính bằng dân số trên lưới dân số chia cho số người bình quân một hộ (điều tra 2019).",
        "Share of households " + _FIBER_EN + ", the drop from the house to the road included. Households come from "
        "household points, or are estimated as people on the population raster ÷ persons per household (2019 census)."),
    "users_200mbps_pct": (
        "Hộ có thể dùng Internet cố định từ 200 Mb/s", "Households offered at least 200 Mb/s fixed",
        "Tỷ lệ hộ (mỗi hộ một đường thuê bao) mà công nghệ tốt nhất trong tầm dây thuê bao cho tốc độ tối thiểu "
        "từ 200 Mb/s (GPON hoặc XGS-PON; cáp đồng chậm hơn). Đây là chỉ số thay thế cho tốc độ trung bình của người dùng.",
        "Share of households (one fixed line each) whose best technology within the drop limit offers at least "
        "200 Mb/s (GPON or XGS-PON; copper is slower). A proxy of the users' average speed."),
    "users_1gbps_pct": (
        "Hộ có thể dùng Internet cố định trên 1 Gb/s", "Households offered more than 1 Gb/s fixed",
        "Tỷ lệ hộ mà công nghệ tốt nhất trong tầm dây thuê bao cho tốc độ tối đa trên 1 Gb/s (XGS-PON).",
        "Share of households whose best technology within the drop limit offers more than 1 Gb/s (XGS-PON)."),
    "copper_only_households": (
        "Hộ còn chỉ có cáp đồng", "Households still on copper only",
        "Số hộ trong tầm một tuyến cáp đồng (ADSL/VDSL) nhưng ngoài tầm cáp quang ({drop} m dọc mạng đường). "
        "Mục tiêu: không còn hộ nào.",
        "Households within reach of a copper (ADSL/VDSL) route but not of fiber ({drop} m along the network). "
        "Target: none left."),
    "urban_organisations_1gbps_pct": (
        "Tổ chức ở đô thị có Internet 1 Gb/s", "Urban organisations offered 1 Gb/s",
        "Tỷ lệ cơ quan, trường học, bệnh viện, trạm y tế, trụ sở xã ở đô thị có tuyến XGS-PON trong tầm {drop} m. "
        "Doanh nghiệp không có trong dữ liệu không gian: chỉ số thay thế cho mọi tổ chức kinh tế - xã hội.",
        "Share of urban agencies, schools, hospitals, health stations and commune offices with an XGS-PON route "
        "within {drop} m. Businesses are not in the geodata: a proxy of every organisation."),
    "agencies_connected_pct": (
        "Cơ quan Đảng, Nhà nước nối mạng truyền số liệu chuyên dùng", "Party and State agencies on the specialised network",
        "Tỷ lệ cơ quan (mọi cấp) và trụ sở UBND xã có cáp quang " + _FIBER_VI + ". Chỉ số thay thế: mạng truyền số "
        "liệu chuyên dùng đi trên cáp quang đó; việc đã đấu nối thực tế không có trong dữ liệu.",
        "Share of agencies (any level) and commune offices with fiber " + _FIBER_EN + ". A proxy: the specialised "
        "network rides on that fiber; whether it is actually connected is not in the data."),
    "health_stations_fiber_pct": (
        "Trạm y tế xã có cáp quang", "Health stations with fiber",
        "Tỷ lệ trạm y tế xã có cáp quang " + _FIBER_VI + ". Chỉ số thay thế cho việc quản lý trạm trên môi trường số.",
        "Share of commune health stations with fiber " + _FIBER_EN + ". A proxy of running the station digitally."),
    "health_stations_mobile_pct": (
        "Trạm y tế xã có sóng 4G/5G", "Health stations with 4G/5G",
        "Tỷ lệ trạm y tế xã " + _MOBILE_VI + ".", "Share of commune health stations with " + _MOBILE_EN + "."),
    "schools_fiber_pct": (
        "Trường học có cáp quang", "Schools with fiber",
        "Tỷ lệ trường học có cáp quang " + _FIBER_VI + ". Chỉ số thay thế cho việc quản lý dạy và học trên môi trường số.",
        "Share of schools with fiber " + _FIBER_EN + ". A proxy of managing teaching digitally."),
    "schools_mobile_pct": (
        "Trường học có sóng 4G/5G", "Schools with 4G/5G",
        "Tỷ lệ trường học " + _MOBILE_VI + ".", "Share of schools with " + _MOBILE_EN + "."),
    "commune_offices_fiber_pct": (
        "Trụ sở UBND xã có cáp quang", "Commune offices with fiber",
        "Tỷ lệ trụ sở UBND xã có cáp quang " + _FIBER_VI + ".", "Share of commune offices with fiber " + _FIBER_EN + "."),
    "commune_offices_mobile_pct": (
        "Trụ sở UBND xã có sóng 4G/5G", "Commune offices with 4G/5G",
        "Tỷ lệ trụ sở UBND xã " + _MOBILE_VI + ".", "Share of commune offices with " + _MOBILE_EN + "."),
    "mean_4g_mbps": (
        "Tốc độ tải xuống trung bình 4G", "Average 4G download speed",
        "Tốc độ tải xuống trung bình giờ cao điểm của mọi người dùng 4G (thuê bao không có máy và gói cước 5G, và người dùng 5G ở ngoài vùng phủ 5G của nhà mạng mình, vì họ dùng 4G), mỗi "
        "người trên mạng của nhà mạng mình (ở ngoài vùng phủ hoặc trong sector quá tải: tính 0 Mb/s), có trọng số "
        "theo số người dùng: tốc độ luồng của sector phục vụ theo mô "
        "hình chia sẻ xử lý (tốc độ đỉnh × (1 − mức tải) của sector), tốc độ đỉnh tính từ tỷ số tín hiệu trên nhiễu, "
        "số luồng MIMO và tỷ lệ đường xuống TDD; nhiễu theo mức tải của các sector lân cận. Số toàn tỉnh là trung bình "
        "theo số thuê bao của các nhà mạng; mục tiêu được đánh giá cả cho từng nhà mạng và báo cáo nêu tên các nhà "
        "mạng chưa đạt. Là ước tính mô hình, không phải số đo thực tế.",
        "Mean busy-hour download speed of all 4G users (subscribers without a 5G device and plan, and 5G users outside their operator's 5G, who fall back to 4G), each on their own "
        "operator's network (0 Mb/s where not covered or in a congested sector), weighted by users: the serving sector's flow throughput by processor sharing (the sector's peak "
        "rate × (1 − its load)), the peak rate from the signal-to-interference ratio, the MIMO rank and the TDD "
        "downlink share, interference by the neighbours' load. The province figure is the user-weighted mean "
        "over the operators; the target is also judged per operator, and the report names the operators below it. "
        "A model estimate, not a measurement."),
    "mean_5g_mbps": (
        "Tốc độ tải xuống trung bình 5G", "Average 5G download speed",
        "Như tốc độ 4G, cho mọi người dùng 5G (thuê bao có máy và gói cước 5G, theo tỷ lệ của năm tính nhu cầu): "
        "người dùng 5G ở ngoài vùng phủ 5G của nhà mạng mình tính 0 Mb/s (họ dùng 4G và làm tăng tải 4G).",
        "As for 4G, for all 5G users (subscribers with a 5G device and plan, at the demand year's uptake): a 5G user "
        "their operator's 5G does not reach counts 0 Mb/s (they fall back to 4G, which they load)."),
    "pop_5g_pct": (
        "Dân số được phủ sóng 5G", "People covered by 5G",
        "Tỷ lệ dân số ở các ô lưới dân số nằm trong vùng phủ 5G ngoài trời của ít nhất một nhà mạng, ở xác suất vị "
        "trí của lần chạy (tín hiệu trừ độ dự trữ pha-đinh che chắn không thấp hơn ngưỡng của sóng mang); dân số mỗi "
        "xã cộng theo tỷ lệ diện tích ô nằm trong ranh giới. Mục tiêu được đánh giá cả cho từng nhà mạng; vùng phủ "
        "trong nhà ở bảng độ nhạy.",
        "Share of people in the population grid's cells within outdoor 5G coverage of at least one operator at the "
        "run's location probability (the signal less the shadow-fading margin at or above the carrier's threshold); "
        "each commune sums its cells by the share of each cell inside its boundary. The target is also judged per "
        "operator; indoor coverage is in the sensitivity table."),
    "dtt_pop_pct": (
        "Dân số thu được truyền hình số mặt đất", "People receiving digital terrestrial TV",
        "Tỷ lệ dân số ở các ô lưới có tín hiệu DVB-T2 mạnh nhất không thấp hơn ngưỡng thu (mô hình truyền sóng và "
        "ăng-ten thu của cấu hình). Thu qua vệ tinh không được mô hình hóa.",
        "Share of people in grid cells where the strongest DVB-T2 signal is at or above the reception threshold "
        "(the profile's propagation model and receiving antenna). Satellite reception is not modelled."),
    "tv_pop_pct": (
        "Dân số xem được truyền hình thiết yếu (số mặt đất hoặc vệ tinh)", "People receiving essential TV (terrestrial or satellite)",
        "Tỷ lệ dân số thu được truyền hình số mặt đất tại ô lưới nơi ở, hoặc thu được truyền hình vệ tinh (có chảo "
        "thu). Vệ tinh được coi là phủ mọi xã, trừ các xã nghiên cứu ghi là không thu được; ở đó chỉ tính truyền hình "
        "mặt đất. Phần còn thiếu là số người không thu được cả hai.",
        "Share of people who receive digital terrestrial TV in their grid cell, or satellite TV (with a dish). "
        "Satellite counts in every commune except those the study lists as without it; there only terrestrial TV "
        "counts. The gap is the people with neither."),
    "datacentre_pairs_redundant_pct": (
        "Cặp trung tâm dữ liệu có đường dự phòng", "Data-centre pairs with a backup path",
        "Tỷ lệ cặp trung tâm dữ liệu được nối bằng ít nhất hai đường cáp quang không chung đoạn nào (trên tuyến cáp "
        "của mọi nhà mạng). Chỉ đánh giá cho toàn tỉnh.",
        "Share of data-centre pairs joined by at least two fiber paths sharing no section (over every operator's "
        "routes). Judged for the province only."),
}

# columns of the study's indicators table (statistics, not geodata) -> (vi name, en name)
TABLE_COLUMNS: dict[str, tuple[str, str]] = {
    "ftth_households_pct": ("Hộ có đường cáp quang (FTTH)", "Households with an FTTH line"),
    "adult_smartphone_pct": ("Người trưởng thành có điện thoại thông minh", "Adults with a smartphone"),
    "green_datacentres": ("Trung tâm dữ liệu xanh quy mô lớn", "Large green data centres"),
    "data_platform_connected": ("Nền tảng dữ liệu địa phương kết nối nền tảng quốc gia", "Local data platform linked to the national one"),
    "health_record_pct": ("Người dân có hồ sơ sức khỏe điện tử", "Residents with a digital health record"),
    "telemedicine_pct": ("Cơ sở khám chữa bệnh có tư vấn từ xa", "Clinics offering telemedicine"),
    "hospital_emr_pct": ("Bệnh viện có bệnh án điện tử", "Hospitals with electronic records"),
    "learning_record_pct": ("Học sinh, sinh viên có hồ sơ học tập số", "Pupils with a digital learning record"),
    "farmer_platform_pct": ("Nông dân dùng nền tảng số nông nghiệp", "Farmers using the agricultural platforms"),
    "einvoice_pct": ("Người, hộ kinh doanh, doanh nghiệp dùng hóa đơn điện tử", "E-invoicing people and businesses"),
    "security_4layer_pct": ("Hệ thống thông tin bảo vệ theo mô hình 4 lớp", "Systems protected under the 4-layer model"),
}

_TABLE_HOW = ("Số liệu thống kê, không có trong dữ liệu không gian: đọc từ bảng chỉ tiêu của nghiên cứu (tệp CSV, cột {col}).",
              "A statistic, not in the geodata: read from the study's indicators table (CSV file, column {col}).")
_POLICY = ("Định hướng chính sách", "Policy direction",
           "Định hướng chính sách: không có số liệu nào đo được.", "A policy direction: no figure measures it.")


# what a target's figure is (the targets file's ``measure``) -> (vi, en)
MEASURES: dict[str, tuple[str, str]] = {
    "measurement": ("đo trực tiếp", "measured"), "proxy": ("chỉ số thay thế", "proxy"),
    "reported": ("số liệu báo cáo", "reported statistic"), "policy": ("định hướng chính sách", "policy"),
}


def measure(kind: Any, lang: str) -> str:
    """A target's kind of figure in ``lang`` ("" when unknown)."""
    pair = MEASURES.get(str(kind or ""))
    return (pair[0] if lang == "vi" else pair[1]) if pair else ""


def _params(parameters: Mapping[str, Any] | None) -> dict[str, str]:
    from ..parameters import FIBER

    fib = (parameters or {}).get("fiber", FIBER)
    drop = float(getattr(fib, "drop_limit_m", FIBER.drop_limit_m))
    frac = float(getattr(fib, "hamlet_threshold_frac", FIBER.hamlet_threshold_frac))
    return {"drop": f"{drop:g}", "hamlet_pct": f"{100 * frac:g}"}


def plain(text: str) -> str:
    """Developer text without code markup: ``x`` -> x, :func:`a.b.c` -> c, [a] b -> a b."""
    text = re.sub(r":[a-z]+:`~?(?:[\w.]+\.)?([\w]+)`", r"\1", text)
    return re.sub(r"``([^`]*)``", r"\1", text).replace("`", "")


def name(indicator: str, lang: str) -> str:
    """What an indicator measures, in a few words (tells similar targets apart)."""
    i = 0 if lang == "vi" else 1
    if indicator in INDICATORS:
        return INDICATORS[indicator][i]
    if indicator.startswith("table:"):
        col = indicator.split(":", 1)[1]
        return TABLE_COLUMNS[col][i] if col in TABLE_COLUMNS else col
    if indicator == "policy":
        return _POLICY[i]
    return indicator


def how(indicator: str, lang: str, parameters: Mapping[str, Any] | None = None, doc: str = "") -> str:
    """How an indicator is measured, in ``lang``, with the run's parameters filled in;
    an indicator without a written text falls back to its docstring (``doc``) without markup."""
    p = _params(parameters)
    i = 2 if lang == "vi" else 3
    if indicator in INDICATORS:
        return INDICATORS[indicator][i].format(**p)
    if indicator.startswith("table:"):
        return _TABLE_HOW[0 if lang == "vi" else 1].format(col=indicator.split(":", 1)[1])
    if indicator == "policy":
        return _POLICY[i]
    if lang == "vi":  # an indicator added without its Vietnamese text: say so rather than print English
        return f"Chỉ số {indicator}: chưa có mô tả tiếng Việt; định nghĩa đầy đủ trong tài liệu của ictplan."
    return plain(doc)
