"""The console's words: domain terms in Simplified Chinese, times in Asia/Shanghai,
and the services' refusals said so staff can act on them."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")

ARRIVAL_ROUTES = {
    "street_patrol": "街面巡查护送",
    "own_request": "自愿求助",
    "hospital_transfer": "医院转入",
    "station_transfer": "站际转入",
    "hotline_tip": "热线线索",
}
SEX = {"male": "男", "female": "女", "unknown": "不详"}
CATEGORIES = {
    "minor": "未成年人",
    "elderly": "老年人",
    "disabled": "残疾人",
    "mental_illness": "精神障碍",
    "dementia": "痴呆/阿尔茨海默病",
    "pregnant": "孕妇",
    "domestic_violence_victim": "家暴受害人",
    "suspected_trafficking": "疑似被拐卖",
    "coerced_begging": "疑似被胁迫乞讨",
}
SUSPECTED_CONDITIONS = {
    "mental_illness": "疑似精神障碍",
    "critical_illness": "危重病症",
    "intoxication": "醉酒或中毒",
}
PERSON_STATUS = {"in_station": "在站", "missing": "走失", "discharged": "已离站"}
IDENTITY_STATUS = {"unknown": "身份不明", "confirmed": "身份已确认"}
ROLES = {
    "station_staff": "站内工作人员",
    "station_lead": "站领导",
    "center_coordinator": "中心站协调员",
    "search_specialist": "寻亲甄别专员",
    "auditor": "审计",
}
DISCHARGE_REASONS = {
    "returned_home": "返乡",
    "left": "自行离站",
    "transferred": "转出（医院、机构或他站）",
    "settled": "落户安置",
    "died": "死亡",
}
PHOTO_KINDS = {"face": "面部照片", "full_body": "全身照片", "belongings": "随身物品照片"}
INCIDENTS = {"death": "死亡", "missing": "走失", "injury": "受伤"}
REMAINS = {
    "buried": "土葬",
    "cremated_ashes_kept": "火化，骨灰寄存待家属认领",
    "cremated_ashes_scattered": "火化，骨灰已撒散",
    "body_kept_pending_identification": "遗体暂存待认领",
}
TIMELINE = {
    "arrived": "到站",
    "admitted": "入站登记",
    "long stay reached": "滞留满三个月",
    "identity confirmed": "身份确认",
}

# (field, a phrase of the service's reason) → what staff should do, in Chinese.
# The first match wins; a field with no match shows the service's own words.
_REASONS: list[tuple[str, str, str]] = [
    (
        "handover",
        "",
        "街面巡查护送须附书面交接手续：护送单位、经办民警或队员、交接单号、发现地点和时间。",
    ),
    (
        "consent_given",
        "",
        "护送具有完全民事行为能力的成年人须经本人同意；本人不同意的，请记录劝导情况（拒绝救助），不予入站。未成年人、精神障碍或痴呆者选“免于同意”。",
    ),
    (
        "suspected_conditions",
        "",
        "先救治，后救助：疑似精神障碍、危重病症或醉酒者须先送医院救治，出院后再入站登记。",
    ),
    ("arrived_at", "future", "到站时间不能晚于现在。"),
    ("arrival_route", "hotline", "热线线索须在线索处理中以“已入站”结案，不能在此登记。"),
    ("source.hospital", "", "请填写转出医院。"),
    ("source.discharge_reference", "", "请填写医院的出院或转院单号。"),
    ("source.station_id", "not a station", "不是本网络的救助站；网络外的救助站请填写站名。"),
    ("source.station_id", "admitting station itself", "不能从本站转入本站。"),
    ("source.station_id", "once", "转出站只填一处：网络内的站从列表选择，网络外的站填写站名。"),
    ("source.transfer_reference", "", "请填写转出站的转站单号。"),
    ("source", "hospital transfer names a hospital", "医院转入只填写医院，不填转出站。"),
    ("source", "station transfer names a sending station, not", "站际转入只填写转出站，不填医院。"),
    ("source", "hospital", "医院转入须填写转出医院及其出院或转院单号。"),
    ("source", "station", "站际转入须填写转出站及其转站单号。"),
    (
        "transferred_to",
        "where",
        "转出须写明转往何处（医院、机构或网络外的站名）；本网络内的站可从列表选择。",
    ),
    ("transferred_to_station_id", "only a transfer", "只有离站原因为“转出”时才选择接收站。"),
    (
        "transferred_to_station_id",
        "not a station",
        "不是本网络的救助站；网络外的站请填写在“转往何处”。",
    ),
    ("transferred_to_station_id", "itself", "不能转往本站。"),
    ("discharged_at", "before", "离站时间不能早于入站时间。"),
    ("discharged_at", "future", "离站时间不能晚于现在。"),
    (
        "belongings_returned",
        "",
        "此人尚有随身物品未交还：请勾选“随身物品已全部交还本人”，或在“随身物品说明”中写明未交还的原因和存放处。",
    ),
    (
        "reason",
        "settlement",
        "落户安置须先完成全部安置程序（最后一步：入住供养机构），才能以此原因离站。",
    ),
    ("placed_at", "future", "送医时间不能晚于现在。"),
    (
        "registered_home_admin_code",
        "",
        "户籍地区划代码无效：请填写县（6位）、乡镇（9位）或村（12位）代码。",
    ),
    # a person's incident (intake's IncidentReport, the form's names)
    ("incident_occurred_at", "before the person arrived", "发生时间不能早于此人本次到站时间。"),
    ("incident_occurred_at", "future", "发生时间不能晚于现在。"),
    ("incident_occurred_at", "to now", "发生时间不能晚于现在（也不能早于1950年）。"),
    ("incident_kind", "", "请选择事件类型：死亡、走失或受伤。"),
    # the face trail's suggestions (search)
    ("earlier_person_id", "own person", "这是本案受助人员自己的记录，不能认定为早前在站。"),
    # the case workspace (甄别): search's refusals
    ("parts", "at least one of observed", "望、闻、问、切、断至少填写一项。"),
    ("noted_at", "future", "谈话时间不能晚于现在。"),
    ("noted_at", "to now", "谈话时间不能晚于现在（也不能早于1950年）。"),
    ("dna_taken_at", "future", "采样时间不能晚于现在。"),
    ("dna_taken_at", "to now", "采样时间不能晚于现在（也不能早于1950年）。"),
    ("notice_appearance", "protected", "公开公告不得写出受保护的身份（如家暴、被拐）。"),
    ("notice_found_place", "protected", "公开公告不得写出受保护的身份（如家暴、被拐）。"),
    ("photo", "no face", "照片中未找到人脸：请让本人正对镜头，在光线充足处重拍。"),
    ("photo", "faces were found", "照片中有多张人脸：请单独为此人拍照。"),
    ("photo", "too small", "照片太小，看不清面部：请靠近重拍。"),
    ("photo", "", "照片无法识别：须为 JPEG、PNG 或 WebP 图片，请重新拍摄。"),
    ("evidence", "", "请至少选择一项证据。"),
    (
        "evidence_face_match_with_family_confirmation",
        "",
        "人脸比对须有家属确认：写明谁确认、如何确认（视频通话、见面）。",
    ),
    ("evidence_police_check", "", "请填写公安核查回复的文号。"),
    ("evidence_self_report_verified", "", "请写明本人自述是如何核实的（如经村委会电话核实）。"),
    (
        "evidence_dna_reverified",
        "re-verified",
        "DNA比中须用新采集的样本复核后才能作为证据；本案尚无复核通过的记录。",
    ),
    ("evidence_similarity", "", "相似度须在 0 到 1 之间。"),
    ("national_id_number", "", "公民身份号码无效：请核对18位号码及最后一位校验码。"),
    (
        "home_admin_code",
        "",
        "户籍地区划代码无效或不在所填省份内：请填写县（6位）、乡镇（9位）或村（12位）代码。",
    ),
    ("candidate_id", "already", "该候选已审核过，请回到待审核列表核对。"),
    ("candidate_id", "closed", "该走失报告已结案（已找到），请回到待审核列表核对。"),
    ("candidate_id", "", "该候选不属于此案，请从待审核列表重新打开。"),
]
# Pydantic's own words, for any field.
_GENERIC: list[tuple[str, str]] = [
    (r"Field required|missing", "此项必填。"),
    (r"at least 1 character", "此项不能为空。"),
    (r"at least 1 item", "请至少选择一项。"),
    (r"at most \d+ character", "内容过长，请精简。"),
    (r"valid integer", "请填写整数。"),
    (r"less than or equal to", "数值过大。"),
    (r"greater than or equal to", "数值过小。"),
    (r"valid datetime|datetime", "时间格式不正确。"),
    (r"Input should be", "请从选项中选择。"),
]


def reason_in_chinese(field: str, reason: str) -> str:
    for name, phrase, words in _REASONS:
        if field == name and phrase.lower() in reason.lower():
            return words
    for pattern, words in _GENERIC:
        if re.search(pattern, reason):
            return words
    return f"服务未接受此项：{reason}"


def refusals_by_field(
    field_errors, fields, names: dict[str, str] | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """A service's refusals in Chinese: by form field (``names`` maps the service's
    name to the form's), and the rest for the top of the form."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for error in field_errors:
        field = form_field(str(error.get("field", "")))
        words = reason_in_chinese(field, str(error.get("reason", "")))
        name = (names or {}).get(field, field)
        (errors.setdefault(name, []) if name in fields else general).append(words)
    return errors, general


def form_field(field: str) -> str:
    """A problem's field as the form names it (``stated_names.0`` → ``stated_names``)."""
    return re.sub(r"\.\d+$", "", field)


def local_time(value: str | datetime | None) -> str:
    if not value:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def time_left(due: str | datetime, now: datetime) -> tuple[str, bool]:
    """("还剩 3小时12分", False) or ("已逾期 2小时", True)."""
    moment = datetime.fromisoformat(due) if isinstance(due, str) else due
    seconds = int((moment - now).total_seconds())
    overdue = seconds < 0
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    span = f"{days}天{hours}小时" if days else f"{hours}小时{mins}分" if hours else f"{mins}分钟"
    return (f"已逾期 {span}" if overdue else f"还剩 {span}"), overdue


def label(mapping: dict[str, str], value: str | None) -> str:
    return mapping.get(value or "", value or "")


def timeline_words(what: str) -> str:
    """intake's timeline entries ("discharged: returned_home") in Chinese."""
    kind, _, value = what.partition(": ")
    if kind == "discharged":
        return f"离站（{label(DISCHARGE_REASONS, value)}）"
    if kind == "incident":
        return f"事件：{label(INCIDENTS, value)}"
    return TIMELINE.get(what, what)


# ---- the case workspace (甄别) -----------------------------------------------------
CASE_STATUS = {"open": "寻亲中", "identified": "身份已确认"}
TASK_KINDS = {
    "family_search_notice": "发布寻亲公告（24小时内）",
    "police_check": "公安身份核查",
    "dna_sample": "采集DNA样本",
}
TASK_STATUS = {"open": "待办", "done": "已完成", "cancelled": "已关闭"}
TASK_CLOSED = {
    "identified": "身份已确认",
    "protected": "受保护人员，不发布公开公告",
    "returned_home": "已返乡",
    "left": "本人已离站",
    "transferred_out": "已转出本网络",
}
# The 520 method, in its order: the clue's parts as search names them.
CLUE_PARTS = {
    "observed": "望（观察）",
    "dialect_heard": "闻（听口音）",
    "person_said": "问（询问）",
    "changes": "切（前后变化）",
    "group_judgment": "断（集体研判）",
}
NOTICE_KINDS = {"national": "全国救助寻亲网公告", "regional": "定向推送"}
NOTICE_STATUS = {
    "publishing": "发布中",
    "published": "已发布",
    "failed": "发布失败（将自动重试）",
    "takedown_pending": "撤下中",
    "taken_down": "已撤下",
}
REGION_BASIS = {"found": "发现地", "accent": "口音所属地", "claimed_home": "自述家乡"}
PROTECTION_REASONS = {
    "domestic_violence_victim": "家暴受害人",
    "endangered": "已标记为有人身危险",
}
TAKEDOWN_REASONS = {
    "identity_confirmed": "身份已确认",
    "protection": "标记为有人身危险",
}
CHECK_STATUS = {"requested": "已申请，等待公安答复", "answered": "公安已答复"}
CHECK_RESULTS = {"identified": "已查明身份", "no_match": "未比中", "inconclusive": "无法确定"}
DNA_STATUS = {
    "submitted": "已送检，等待结果",
    "no_match": "未比中",
    "unusable": "样本不可用",
    "hit_unverified": "比中，待复采复核",
    "hit_confirmed": "比中，已复核",
    "hit_not_confirmed": "复核未通过",
    "confirms_hit": "复核样本：确认比中",
}
DNA_RESULTS = {"hit": "比中", "no_match": "未比中", "unusable": "样本不可用"}
EVIDENCE_KINDS = {
    "face_match_with_family_confirmation": "人脸比对并经家属确认",
    "police_check": "公安核查回复",
    "dna_reverified": "DNA比中并经复采复核",
    "self_report_verified": "本人自述并经核实",
}
METHODS = {
    "dna": "DNA比对",
    "police_check": "公安核查",
    "face_comparison": "人脸比对",
    "self_reported": "本人自述",
}
MATCH_FIELDS = {"face": "面部", "name": "姓名", "place": "地点", "age": "年龄", "sex": "性别"}
VERDICTS = {"match": "相符", "close": "相近", "mismatch": "不符", "unknown": "无法比较"}
CANDIDATE_STATUS = {
    "pending": "待审核",
    "confirmed": "已确认",
    "rejected": "已否定",
    "superseded": "已失效（另案已确认）",
}
TRAIL_VERDICTS = {"match": "很可能是同一人", "close": "相似，请再核对"}


def percent(score) -> str:
    """0.934 → "93%"; "—" when a side does not know the field."""
    return "—" if score is None else f"{round(float(score) * 100)}%"


# ---- return stabilisation (回访) ------------------------------------------------------
REVISIT_MODES = {"visit": "上门走访", "phone": "电话回访"}
REVISIT_STATUS = {"scheduled": "待回访", "done": "已回访", "overdue": "已逾期"}
SITUATIONS = {
    "stable": "生活稳定",
    "living_difficulty": "生活困难（转民政：特困、低保）",
    "work_difficulty": "就业困难（转社会组织）",
    "medical_difficulty": "就医困难（转医院）",
    "left_home_again": "再次外出流浪",
    "deceased": "已死亡",
}
PARTNERS = {
    "civil_affairs": "民政部门",
    "social_organisation": "社会组织",
    "hospital": "医院",
    "womens_federation": "妇联",
    "minor_protection": "未成年人保护机构",
    "police": "公安机关",
}
HELP_TASK_STATUS = {"open": "待办", "done": "已办结"}
RISK_LEVELS = {"low": "低", "medium": "中", "high": "高"}
AT_RISK_REASONS = {
    "mental_illness": "精神障碍",
    "dementia": "痴呆",
    "disabled": "残疾",
    "repeat_wandering": "反复流浪",
    "other": "其他",
}
RECORD_STATUS = {"active": "回访中", "closed": "已结案"}
RECORD_OUTCOMES = {
    "stable_year": "稳定满一年",
    "settled": "落户安置（无家可归，由户籍地安置）",
    "deceased": "已死亡",
}
RECORD_SOURCES = {"handover": "本网络护送返乡", "inbound_return": "外地救助站送返"}
_REASONS.extend(
    [
        ("visited_on", "future", "回访日期不能晚于今天。"),
        ("visited_on", "before the handover", "回访日期不能早于到家（交接）日期。"),
        ("visited_on", "to today", "回访日期不能晚于今天（也不能早于1950年）。"),
        ("outcome", "year of followup has not passed", "回访期未满一年，不能以“稳定满一年”结案。"),
        ("outcome", "not every revisit", "还有回访未完成，不能以“稳定满一年”结案。"),
        ("outcome", "not find the person stable", "最近一次回访未见生活稳定，不能结案。"),
        ("settlement", "", "落户安置须写明由谁、如何安置。"),
        ("note", "say why", "原因选“其他”时须写明原因。"),
    ]
)


# ---- returns home (返乡): transfer's words and refusals ------------------------------
RETURN_STATUS = {
    "pending": "待安排护送",
    "planned": "已安排护送",
    "in_transit": "护送途中",
    "handed_over": "已交接",
    "refused": "流出地拒不接收（已上报）",
}
ESCORT_STATUS = {"planned": "待出发", "departed": "护送途中", "completed": "已完成"}
TRANSPORT_MODES = {
    "train": "火车",
    "bus": "客车",
    "station_vehicle": "救助站车辆",
    "flight": "飞机",
}
STAFF_ROLES = {"escort": "护送人员", "medical": "医护人员", "driver": "司机"}
STAFF_SEX = {"male": "男", "female": "女"}
RECEIVER_KINDS = {"family": "家属", "receiving_station": "接收救助站"}
ID_DOCUMENTS = {
    "resident_id_card": "居民身份证",
    "household_register": "户口簿",
    "passport": "护照",
    "other": "其他证件",
    "none": "无证件",
}
ESCALATION_STATUS = {"open": "待上级协调", "resolved": "已协调"}
ESCALATION_OUTCOMES = {
    "home_area_accepts": "户籍地同意接收（重新安排护送）",
    "settled_locally": "就地安置",
    "other": "其他",
}
_REASONS += [
    ("staff", "female escort", "有妇女或女童同行：须有女性护送人员（护送或医护）。"),
    (
        "staff",
        "medical escort",
        "有病患同行（精神障碍、痴呆、孕妇或经评估需要）：须有医护人员随行。",
    ),
    ("staff", "at least one escort", "至少须有一名护送人员或医护人员（司机不算）。"),
    ("staff.sex", "", "请选择护送人员的性别。"),
    ("staff.role", "", "请选择护送人员的职责。"),
    ("return_ids", "escorted by", "跨省返乡由中心站统一护送：此返乡不由本站安排。"),
    ("return_ids", "one destination province", "一次护送只去一个省份：请按省份分批安排。"),
    ("return_ids", "not fit to travel", "所选人员中有人经评估不宜出行：请先更新出行评估。"),
    ("return_ids", "not reached transfer", "入站登记信息尚未同步到返乡服务，请稍后再试。"),
    ("return_ids", "twice", "同一人员选了两次。"),
    ("return_ids", "no such return", "所选返乡不存在或不在本站查看范围内。"),
    ("return_ids", "at least 1 item", "请至少选择一名返乡人员。"),
    ("return_ids", "return", "所选人员已安排护送或不在待安排状态：请刷新返乡看板核对。"),
    ("legs.origin", "must continue", "各段行程须首尾相接：本段须从上一段的终点出发。"),
    ("legs", "at least 1 item", "请至少填写一段行程。"),
    ("legs.planned_departure_at", "", "请填写计划出发时间（须在今后，北京时间）。"),
    ("legs.mode", "", "请选择此段的交通方式。"),
    ("transport_mode", "", "请选择交通方式。"),
    ("fit_to_travel", "", "请选择是否适宜出行。"),
    ("signature_png", "at least", "请接收人在签名板上签名。"),
    ("signature_png", "", "签名图像无效：请清除后重新签名。"),
    ("id_document_number", "required", "持证件交接须填写证件号码。"),
    ("id_document_number", "", "公民身份号码无效：请核对18位号码及最后一位校验码。"),
    ("receiver_kind", "", "请选择接收方。"),
    ("id_document_type", "", "请选择接收人出示的证件。"),
    ("handed_over_at", "future", "交接时间不能晚于现在。"),
    ("refused_at", "", "拒收时间不能晚于现在。"),
    ("departed_at", "future", "出发时间不能晚于现在。"),
    ("arrived_at", "future", "到达时间不能晚于现在。"),
    ("outcome", "", "请选择协调结果。"),
]
