"""The catalogue of policy parameters seeded into `policy_parameter`.

Values from the sources cite the seed and item number. Values the sources do not give are configurable
defaults (`is_default=True`, source starting with DEFAULT_SOURCE) and must be confirmed by the province.
2021 outcomes in seed 004 (numbers named, amounts refunded) are facts, not rules, and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

S0 = "大工办发〔2017〕28号"
S4 = "2021年《省总工会出台系列政策措施促进科技型中小企业发展》报道（刘大毅）"
DEFAULT_SOURCE = "默认值，可配置"

# "连续3年" gives no start. The plan is dated 2017-09-29, so the window is assumed to open the next
# month; see the `measures.start_date` parameter.
MEASURE_FROM = date(2017, 10, 1)
MEASURE_TO = date(2020, 9, 30)
# Annual quotas and defaults apply to whole calendar years, starting with the plan's year.
YEAR_2017 = date(2017, 1, 1)
STUDIO_2017_TO = date(2020, 12, 31)
STUDIO_2021_FROM = date(2021, 1, 1)

WINDOW_NOTE = "有效期按默认起止日（2017-10-01至2020-09-30）推定：来源只写“连续3年”，未给出起始日。"


@dataclass(frozen=True, slots=True)
class ParameterSpec:
    key: str
    value: str
    unit: str
    valid_from: date
    valid_to: date | None
    source: str
    is_default: bool
    note: str
    label_zh: str


def _rule(
    key: str,
    value: str,
    unit: str,
    label: str,
    source: str,
    valid_from: date = YEAR_2017,
    valid_to: date | None = None,
    note: str = "",
) -> ParameterSpec:
    return ParameterSpec(key, value, unit, valid_from, valid_to, source, False, note, label)


def _default(
    key: str,
    value: str,
    unit: str,
    label: str,
    reference: str,
    valid_from: date = YEAR_2017,
    valid_to: date | None = None,
    note: str = "",
) -> ParameterSpec:
    source = f"{DEFAULT_SOURCE}；{reference}"
    return ParameterSpec(key, value, unit, valid_from, valid_to, source, True, note, label)


_HAZARD_NOTE = (
    "默认档次表，参考某地方政府隐患举报奖励办法（领域调研 §2.b，R1），不是辽宁省或大连市的规定；"
    "来源中没有工会奖励档次，需由省总确认。重大隐患仅“基本属实”时按一般隐患“属实”档处理。"
)
_INTERNAL_NOTE = "来源未给出标准，需由省总确认。种子只写“视退养时间，按一定标准给予一次性援助”。"

# fmt: off
# The catalogue is a table: one entry per block reads better than the formatter's one argument per line.
CATALOGUE: tuple[ParameterSpec, ...] = (
    # Duration of measures 一、二、七、八 ("连续3年").
    _rule("measures.duration_years", "3", "年", "十项措施中限时措施的持续年数",
          f"{S0} 第1、2、10、11项（措施一、二、七、八）“连续3年”", valid_from=MEASURE_FROM),
    _default("measures.start_date", "2017-10-01", "日期", "限时措施起始日", "领域调研 §1.5 第1条",
             valid_from=MEASURE_FROM,
             note="来源未给出“连续3年”的起始日；按方案印发日2017-09-29的次月推定，需由省总确认。"),
    # Union fees (measures 一、二、三).
    _rule("fee.rate", "2", "%", "工会经费拨缴比例（占工资总额）", f"{S0} 第1项（措施一）",
          note="工资总额2%的比例本身由工会法规定，早于本方案；此处只记录本方案重申的数值。"),
    _rule("fee.tax_collected_share", "40", "%", "地税（税务）代收部分占工会经费比例", f"{S0} 第1项（措施一）",
          note="2018年起地税并入税务局。2017年前同为40%上缴、60%先征后返，故不设截止日。"),
    _rule("fee.retained_share", "60", "%", "基层工会留成部分占工会经费比例", f"{S0} 第1项（措施一）",
          note="措施期内由企业直接拨付同级工会，不再先征后返；措施期后的拨付方式需确认。"),
    _rule("fee.small_enterprise_max_employees", "25", "人", "小微企业工会经费全额返还的从业人员上限",
          f"{S0} 第2项（措施二）", valid_from=MEASURE_FROM, valid_to=MEASURE_TO,
          note="“25人以下”含25人（民法典第1259条：“以下”包括本数）。" + WINDOW_NOTE),
    _rule("fee.deferral_years", "3", "年", "困难工业企业工会经费缓征年数", f"{S0} 第3项（措施三）",
          valid_from=MEASURE_FROM,
          note="来源未说明缓征是否只及于代收的40%部分、缓征款是否补缴，需确认。"),
    # Innovation studios (measure 四).
    _rule("studio.model_worker.quota", "30", "个", "年度命名省级劳模创新工作室名额", f"{S0} 第4项（措施四）",
          valid_to=STUDIO_2017_TO,
          note="2021年实际命名31个（种子004）为结果而非名额；2021年起名额来源未给出。"),
    _rule("studio.model_worker.funding", "50000", "元", "省级劳模创新工作室补助资金（每个）",
          f"{S0} 第4项（措施四）", valid_to=STUDIO_2017_TO,
          note="2018—2020年沿用2017年标准为推定；2020年命名管理办法修订，具体标准未见原文。"),
    _rule("studio.model_worker.funding", "100000", "元", "省级劳模创新工作室支持资金（每个）",
          f"{S4}“强化培训体系提升职工技能”部分", valid_from=STUDIO_2021_FROM,
          note="原文“每个给予10万元支持资金”紧接科技型企业中的205个、10个工作室之后，是否适用于全部"
               "省级工作室有歧义，需由省总确认。"),
    _rule("studio.worker.quota", "50", "个", "年度命名省级职工创新工作室名额", f"{S0} 第4项（措施四）",
          valid_to=STUDIO_2017_TO,
          note="2021年实际命名313个（种子004）为结果而非名额；2021年起名额来源未给出。"),
    _rule("studio.worker.funding", "30000", "元", "省级职工创新工作室补助资金（每个）",
          f"{S0} 第4项（措施四）", valid_to=STUDIO_2017_TO,
          note="2018—2020年沿用2017年标准为推定；2020年命名管理办法修订，具体标准未见原文。"),
    _rule("studio.worker.funding", "100000", "元", "省级职工创新工作室支持资金（每个）",
          f"{S4}“强化培训体系提升职工技能”部分", valid_from=STUDIO_2021_FROM,
          note="同劳模创新工作室：10万元是否适用于全部省级工作室有歧义，需由省总确认。"),
    _default("studio.min_team_size", "3", "人", "创新工作室团队最少人数（含领衔人）", "领域调研 §2.c（R26）",
             note="其他省份做法（至少3人）；辽宁2020年办法原文未见，需由省总确认。"),
    _default("studio.panel.min_experts", "3", "人", "创新工作室评审专家最少人数", "领域调研 §2.c C5（R19）",
             note="来源只写专家组表决，未给出人数；通过规则（三分之二以上同意）写在流程图中。"),
    # Annual "top ten" selections (measure 四).
    _rule("award.top_ten.innovation_achievement", "10", "个", "年度省“十大创新成果”",
          f"{S0} 第4项（措施四）"),
    _rule("award.top_ten.innovation_expert", "10", "人", "年度省“十大创新能手”", f"{S0} 第4项（措施四）"),
    _rule("award.top_ten.saving_environment", "10", "人", "年度省“十大节约环保标兵”",
          f"{S0} 第4项（措施四）"),
    _rule("award.top_ten.rationalisation_proposal", "10", "个", "年度省“十大合理化建议”",
          f"{S0} 第4项（措施四）"),
    # Key-project labour competition "五比一创" (measure 五).
    _rule("competition.key_projects", "60", "个", "开展“五比一创”劳动竞赛的省新增重点工程项目数",
          f"{S0} 第5项（措施五）"),
    _rule("award.key_project.may_day_certificate", "20", "个", "年度授予辽宁五一劳动奖状",
          f"{S0} 第5项（措施五）", note="限于重点工程“五比一创”劳动竞赛，不是全省五一劳动奖总数。"),
    _rule("award.key_project.may_day_medal", "30", "个", "年度授予辽宁五一劳动奖章",
          f"{S0} 第5项（措施五）", note="限于重点工程“五比一创”劳动竞赛，不是全省五一劳动奖总数。"),
    _rule("award.key_project.pioneer", "50", "个", "年度授予辽宁工人先锋号", f"{S0} 第5项（措施五）"),
    _rule("award.key_project.team_leader", "50", "个", "年度评选优秀班组长", f"{S0} 第5项（措施五）"),
    # Aid to workers of capacity-reduction enterprises (measure 七) and hardship aid (measure 八).
    _rule("aid.buyout.max_per_year", "3000", "元", "买断职工援助每年上限", f"{S0} 第9项（措施七）",
          valid_from=MEASURE_FROM, valid_to=MEASURE_TO, note="仅限失业保险期内。" + WINDOW_NOTE),
    _rule("aid.buyout.min_years", "1", "年", "买断职工援助最少年数", f"{S0} 第9项（措施七）“一年或两年”",
          valid_from=MEASURE_FROM, valid_to=MEASURE_TO, note=WINDOW_NOTE),
    _rule("aid.buyout.max_years", "2", "年", "买断职工援助最多年数", f"{S0} 第9项（措施七）“一年或两年”",
          valid_from=MEASURE_FROM, valid_to=MEASURE_TO, note=WINDOW_NOTE),
    _rule("aid.capacity_reduction.annual_fund", "50000000", "元", "省总去产能专项援助资金（每年）",
          f"{S0} 第10项（措施七）", valid_from=MEASURE_FROM, valid_to=MEASURE_TO, note=WINDOW_NOTE),
    _rule("aid.hardship.annual_fund", "130000000", "元", "省总专项帮扶资金（每年）",
          f"{S0} 第11项（措施八）", valid_from=MEASURE_FROM, valid_to=MEASURE_TO, note=WINDOW_NOTE),
    # Internal-retirement one-time aid: keys "up_to.N" (≤ N years) and "over.N" (> N years).
    _default("aid.internal_retirement.up_to.1", "2000", "元", "内退特困职工一次性援助（退养1年及以下）",
             f"领域调研 §1.5 第4条；{S0} 第9项（措施七）", MEASURE_FROM, MEASURE_TO, _INTERNAL_NOTE),
    _default("aid.internal_retirement.up_to.3", "3000", "元", "内退特困职工一次性援助（退养1年以上至3年）",
             f"领域调研 §1.5 第4条；{S0} 第9项（措施七）", MEASURE_FROM, MEASURE_TO, _INTERNAL_NOTE),
    _default("aid.internal_retirement.over.3", "4000", "元", "内退特困职工一次性援助（退养3年以上）",
             f"领域调研 §1.5 第4条；{S0} 第9项（措施七）", MEASURE_FROM, MEASURE_TO, _INTERNAL_NOTE),
    # Cross-cutting time limits.
    _default("notice.working_days", "5", "工作日", "公示期", "领域调研 §3.7（R22、R48：公示不少于5个工作日）",
             note="R22为营口劳动荣誉公示实践，R48为县级工会困难职工公示实践。"),
    # Hazard-report rewards for the union track (measure 九, item 13 gives no amounts).
    _default("hazard.reward.general.basically_true", "300", "元", "一般隐患、基本属实的奖励上限",
             "领域调研 §2.b 档次表 R1", note=_HAZARD_NOTE),
    _default("hazard.reward.general.true", "500", "元", "一般隐患、属实的奖励上限",
             "领域调研 §2.b 档次表 R1", note=_HAZARD_NOTE),
    _default("hazard.reward.major", "3000", "元", "重大隐患、属实的奖励上限",
             "领域调研 §2.b 档次表 R1", note=_HAZARD_NOTE),
    _default("hazard.bank_details_days", "30", "天", "举报人提交收款账户的期限（自奖励通知起）",
             "领域调研 §2.b B8（R2）", note="企业工会实例；逾期处理方式需确认。"),
    # Supervised matters (督办, issue 8): time limits of the steps that have no deadline of their own. 承办反馈 and
    # 协办反馈 are due on the matter's deadline; these are snapshotted into the case at 立项.
    _default("supervision.assign.working_days", "2", "工作日", "督办事项交办时限（自立项起）",
             "bpm-anchors §3（立项交办、限时办结）", note="来源未给出时限，按常见督查督办做法设定，可调整。"),
    _default("supervision.sign.working_days", "2", "工作日", "督办事项签收时限（自交办起）",
             "bpm-anchors §3（交办—签收）", note="来源未给出时限，按常见督查督办做法设定，可调整。"),
    _default("supervision.verify.working_days", "5", "工作日", "督办事项核查销号时限（自报送办结报告起）",
             "bpm-anchors §3（办结报告—销号）", note="来源未给出时限，按常见督查督办做法设定，可调整。"),
)
# fmt: on
