"""Customer-facing text sent by custom actions (Simplified; rendered per script)."""

RELATED_QUESTIONS = "您可能还想了解："
FEATURED_QUESTIONS = "猜你想问："
DID_YOU_MEAN = "抱歉，我不太确定您的意思。您是不是想问："
NONE_OF_THESE = "都不是"
# Self-service tasks a "您是不是想问" may offer, as the customer would say them.
TASKS = {
    "check_application_status": "查询我的申请进度",
    "book_appointment": "我要预约办理业务",
    "change_appointment": "修改我的预约",
    "cancel_appointment": "取消我的预约",
}

# Application status (handbook 2.4-2.5)
APPLICATION_NUMBER_FORMAT = "抱歉，没有识别出申请编号。申请编号以SQ开头，后跟12位数字，例如SQ202611280001，请再输入一次。"
PHONE_LAST4_FORMAT = "请只输入登记手机号的后4位数字，例如“5678”。"
VERIFICATION_FAILED = "抱歉，信息核验未通过，请核对申请编号和手机号后4位后重新输入（还可尝试{left}次）。"
VERIFICATION_LOCKED = (
    "为保护您的信息安全，核验连续未通过，查询已暂时锁定，请15分钟后再试。"
    "如需帮助，可以转人工服务核实身份。"
)
APPLICATION_NOT_AVAILABLE = "抱歉，暂时无法查询该申请，请稍后再试或转人工服务。"
TO_HUMAN = "转人工"

# Appointments (handbook 5.4)
ASK_SERVICE_TYPE = "请问您要预约办理哪项业务？"
ASK_BRANCH = "请选择办理的网点，或选择视频客服："
NO_SERVICE_TYPES = "抱歉，预约服务暂时不可用，请稍后再试或转人工服务。"
CONTACT_PHONE_FORMAT = "请输入正确的11位手机号码，例如13812345678。"
CONFIRM_APPOINTMENT = "请确认预约信息：\n业务：{service}\n地点：{place}\n时间：{time}\n联系电话：{phone}\n确认预约吗？"
CONFIRM = "确认预约"
CHANGE_TIME = "换个时间"
GIVE_UP = "不约了"
BOOKED = (
    "预约成功！预约码：{code}。\n{service}，{time}，{place}。\n"
    "我们会在预约前提醒您；如需变更或取消，回复“改约”或“取消预约”即可。"
)
RESCHEDULED = "已为您改约：预约码{code}，{service}，新的时间为{time}，{place}。"
BOOKING_DECLINED = "好的，本次预约未提交。还有什么可以帮您？"
SLOT_TAKEN = "抱歉，{time}刚刚已约满。"
NO_APPOINTMENT_FOUND = "抱歉，没有查到您的有效预约。如有预约码（YY开头的8位），请连同预约码一起发给我，例如“取消预约 YY3K7QPM”。"
WHICH_APPOINTMENT = "您有多个有效预约，请告诉我要操作哪一个（发送预约码）："
CANCELLED = "已为您取消预约（预约码{code}，{service}，{time}）。如需重新预约，回复“预约”即可。"
ALREADY_CANCELLED = "该预约（预约码{code}）已经取消，无需重复操作。"
REMINDER = "温馨提醒：您预约的{service}将于{time}在{place}办理，预约码{code}。如需变更或取消，请回复“改约”或“取消预约”。"
FORM_STOPPED = "好的，已为您退出当前办理。还有什么可以帮您？"
SERVICE_UNAVAILABLE = "抱歉，系统暂时繁忙，请稍后再试或转人工服务。"

# Human handoff (handbook 1.3 hours, 2.2 首问负责制 and 20-minute response, 4.3 complaints)
HANDOFF_STARTED = "已为您转接人工客服，服务单号{number}。"
HANDOFF_URGENT = "您反映的情况涉及账户和资金安全，已为您优先转接人工客服，服务单号{number}。"
HANDOFF_QUEUE = (
    "您前面还有{ahead}位客户，{wait}。排队期间可以直接输入您的问题，客服接入后都能看到；"
    "回复“取消”或“返回机器人”可回到智能客服。"
)
HANDOFF_WAIT_ESTIMATE = "预计等待约{minutes}分钟"
HANDOFF_WAIT_STANDARD = "我们将在20分钟内响应您"
HANDOFF_REJOINED = "您的服务单{number}仍在处理中，已为您接回负责的客服{agent}，请直接留言。"
HANDOFF_OFF_HOURS = (
    "人工在线客服的服务时间为工作日9:00-22:00，现在不在服务时间内，"
    "最近的人工服务时间是{opens}起。您可以留言并留下回电号码，上班后客服会尽快处理；"
    "也可以预约办理业务，或继续向我咨询。"
)
HANDOFF_OFF_HOURS_URGENT = "如涉及账户或资金安全，请立即拨打24小时服务热线。"
HANDOFF_MESSAGE_LEFT = (
    "已为您登记服务单{number}，客服将于{opens}起尽快处理。请直接输入您的问题，"
    "并留下11位手机号码以便回电；回复“取消”可撤销本次登记。"
)
HANDOFF_NEXT_WORKING_DAY = "下一个工作日9:00"
LEAVE_MESSAGE = "留言，请客服回电"
CONTINUE_WITH_BOT = "继续咨询机器人"

# Satisfaction (handbook 6.3)
SATISFACTION_COMMENT_SAVED = "已收到您的意见，我们会认真改进。请问还有什么可以帮您？"
SATISFACTION_NO_COMMENT = "好的，感谢您的支持。请问还有什么可以帮您？"
SATISFACTION_NOT_FOUND = "感谢您的评价。请问还有什么可以帮您？"
