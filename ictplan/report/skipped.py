"""Why a job did not run, in the reader's language (the report's "not in this report" list).

The workflow records each skipped job's reason as one English sentence for the command
line (:func:`ictplan.validation.skip_reason`: what the study lacks and where to add it;
``"<job> could not run: <error>"`` when the analysis refused the data; a study of parts
joins its parts' reasons). The CLI keeps printing those; the report says the same in
``lang``:

* a job the study lacks inputs for: rebuilt from :data:`ictplan.validation.JOB_INPUTS` and
  the study's layers and files (the same rule that wrote the sentence), each input named
  as the report names the study's layers;
* a job that refused its data: the kind of error in words, and the error's own message
  as a technical detail (it is a developer's English sentence, with the values at fault);
* anything else (a sentence not written by these rules): a general sentence, and the
  original as the technical detail.

:func:`explain` returns ``(text, detail)``; ``detail`` is "" when the text says it all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .. import validation as _validation
from .._errors import ConfigError, DataSourceError, InputValidationError, NetworkError
from .text import LAYERS

__all__ = ["explain", "skipped_list", "detail_label", "no_paths"]

_FILES = {"profiles": ("tệp cấu hình công nghệ vô tuyến (mục [profiles])", "the radio profiles file ([profiles])"),
          "targets": ("tệp chỉ tiêu quy hoạch (mục [targets])", "the plan's targets file ([targets])")}

_W = {
    "vi": {
        "needs": "chưa chạy được vì nghiên cứu còn thiếu {items}. Cách khắc phục: trong tệp study.toml, thêm {where}.",
        "or": " hoặc ", "and": " và ", "sep": "; ",
        "failed": "{what} (có khai báo nhưng không đọc được)",
        "where_file": "mục [{f}] với đường dẫn tới tệp", "where_layer": "lớp dữ liệu còn thiếu trong mục [layers]",
        "error": "phân tích đã chạy nhưng dừng lại: {kind}. Sửa theo chi tiết kỹ thuật kèm theo rồi chạy lại.",
        "other": "phân tích không chạy được; lý do ghi trong chi tiết kỹ thuật kèm theo.",
        "parts": "không cộng gộp được qua các phần của {study}: kết quả của từng phần nằm riêng trong từng phần "
                 "(chạy phân tích trên nghiên cứu của từng phần).",
        "part": "phần {name}: {text}",
        "k_config": "cấu hình của nghiên cứu (study.toml hoặc các tham số) chưa đúng",
        "k_file": "thiếu tệp dữ liệu hoặc không đọc được tệp",
        "k_input": "dữ liệu đầu vào không hợp lệ (thiếu cột, sai hệ tọa độ, hình học hoặc giá trị không dùng được)",
        "k_network": "mạng đường bộ, bờ kênh không liền mạch hoặc không dùng được",
        "k_other": "dữ liệu không dùng được cho phân tích này",
        "detail": "Chi tiết kỹ thuật (tiếng Anh, như dòng lệnh in ra)",
    },
    "en": {
        "needs": "could not run: the study lacks {items}. To fix it, add {where} to study.toml.",
        "or": " or ", "and": " and ", "sep": "; ",
        "failed": "{what} (named, but it failed to load)",
        "where_file": "a [{f}] section with the file's path", "where_layer": "the missing layer under [layers]",
        "error": "the analysis ran but stopped: {kind}. Fix what the technical detail says and run it again.",
        "other": "the analysis could not run; the reason is in the technical detail.",
        "parts": "is not combined over the parts of {study}: each part's result stays with that part (run the "
                 "analysis on each part's study).",
        "part": "part {name}: {text}",
        "k_config": "the study's configuration (study.toml or the parameters) is wrong",
        "k_file": "a data file is missing or cannot be read",
        "k_input": "an input is not valid (a missing column, a wrong CRS, geometry or values it cannot use)",
        "k_network": "the road and canal network is broken up or cannot be used",
        "k_other": "the data cannot be used for this analysis",
        "detail": "Technical detail (as the command line prints it)",
    },
}


def _input_name(item: str, lang: str) -> str:
    i = 0 if lang == "vi" else 1
    if item in _FILES:
        return _FILES[item][i]
    pair = LAYERS.get(item)
    if pair is None:
        return item
    # en: with the key to write under [layers]
    return f"lớp dữ liệu “{pair[0]}”" if lang == "vi" else f"the layer “{pair[1]}” ({item})"


def _needs(study: Any, job: str, lang: str, failed: Any = None) -> str:
    """The missing inputs of ``job`` as a sentence, from the same rule as ``skip_reason``."""
    W = _W[lang]
    available = _validation._available(study)
    failed = failed or {}
    groups, files, layers = [], [], False
    for group in _validation.JOB_INPUTS[job]:
        if any(all(a in available and a not in failed for a in alt) for alt in group):
            continue
        alts = []
        for alt in group:
            what = W["and"].join(_input_name(a, lang) for a in alt)
            alts.append(W["failed"].format(what=what) if any(a in failed for a in alt) else what)
        groups.append(W["or"].join(alts))
        names = [a for alt in group for a in alt]
        files += [a for a in names if a in _FILES and a not in files]
        layers = layers or any(a not in _FILES for a in names)
    where = [W["where_file"].format(f=f) for f in files] + ([W["where_layer"]] if layers else [])
    return W["needs"].format(items=W["sep"].join(groups), where=W["and"].join(where))


def _kind(err: BaseException | None, lang: str) -> str:
    W = _W[lang]
    for cls, key in ((ConfigError, "k_config"), (DataSourceError, "k_file"), (NetworkError, "k_network"),
                     (InputValidationError, "k_input")):
        if isinstance(err, cls):
            return W[key]
    return W["k_other"]


_ABS_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:[\\/]|/)(?:[^\s/\\:;,'\"]+[\\/])+(?=[^\s/\\]+)")


def no_paths(text: str, study: Any) -> str:
    """``text`` without the machine's folders: paths in the study relative to it, any other
    absolute path as its file name (the report names no folder of this machine)."""
    root = getattr(study, "root", None)
    if root is not None:
        for r in {str(root), str(getattr(root, "resolve", lambda: root)())}:
            text = text.replace(r.rstrip("/\\") + "/", "").replace(r.rstrip("/\\") + "\\", "")
    return _ABS_PATH.sub("", text)


def explain(results: Any, job: str, why: str, lang: str) -> tuple[str, str]:
    """``results.skipped[job]`` (``why``) in ``lang``: ``(text, detail)``.

    ``detail`` is the original English sentence where the text does not carry all of it
    (an analysis's error message), else "".
    """
    W = _W[lang]
    study = results.study
    check = "coverage" if job == "sensitivity" else job
    parts: Sequence[Any] = getattr(results, "parts", None) or []
    if parts and why.startswith(f"{job} is not combined over the parts"):
        return W["parts"].format(study=study.name), ""
    if parts:
        texts, details = [], []
        for p in parts:
            if job in p.skipped:
                t, d = explain(p, job, p.skipped[job], lang)
                texts.append(W["part"].format(name=p.study.name, text=t))
                details += [d] if d else []
        if texts:
            return W["sep"].join(texts), " | ".join(details)
    if check in _validation.JOB_INPUTS and why == _validation.skip_reason(study, check):
        return _needs(study, check, lang), ""
    if why.startswith(f"{job} could not run: "):
        err = (getattr(results, "errors", None) or {}).get(job)
        return W["error"].format(kind=_kind(err, lang)), no_paths(why.split(": ", 1)[1], study)
    return W["other"], no_paths(why, study)


def skipped_list(results: Any, job_names: dict[str, str], lang: str) -> list[dict[str, str]]:
    """The report's list of skipped jobs: ``{"job", "text", "detail"}`` per job, in the order
    the workflow recorded them; ``job_names``: the job's name in ``lang``."""
    out = []
    for job, why in results.skipped.items():
        text, detail = explain(results, job, str(why), lang)
        out.append({"job": job_names.get("job_" + job, job), "text": text, "detail": detail})
    return out


def detail_label(lang: str) -> str:
    return _W[lang]["detail"]
