"""Channel adapters against real receivers on 127.0.0.1 (HTTP server and aiosmtpd), no mocks."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# `tests.support` must be importable however pytest was started (`pytest`, not only
# `python -m pytest`), so put the repository root on sys.path (as test_servers_support does).
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from caseflow.notify import (  # noqa: E402
    MAX_ATTEMPTS,
    Channel,
    DeliveryError,
    OutgoingMessage,
    backoff_seconds,
    build_channels,
)
from caseflow.notify.email import EmailChannel  # noqa: E402
from caseflow.notify.linkage110 import Linkage110Channel  # noqa: E402
from caseflow.notify.registry import BACKOFF_CAP_S  # noqa: E402
from caseflow.notify.sms import SmsChannel  # noqa: E402
from caseflow.notify.webhook import WebhookChannel, post_json  # noqa: E402
from caseflow.notify.wecom import MAX_CONTENT_BYTES, WeComRobotChannel  # noqa: E402
from tests.support.http_receiver import HttpReceiver, free_port  # noqa: E402
from tests.support.smtp_receiver import SmtpReceiver  # noqa: E402

SUBJECT_ZH = "【紧急】市联动中心指令：人民路井盖缺失，请30分钟内到场"
BODY_ZH = "指令编号 110-2024-0001\n地点：人民路与解放路交叉口\n请处置单位签收并反馈到场时间。"


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours *_proxy variables; a CI proxy must not intercept loopback receivers.
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver(
        credentials=("notify", "s3cret"),
        reject_rcpt={
            "nobody@example.org": "550 5.1.1 mailbox unavailable",
            "busy@example.org": "451 4.3.0 try again later",
        },
    ).start()
    try:
        yield receiver
    finally:
        receiver.stop()


def msg(channel: str, address: str, **kwargs: object) -> OutgoingMessage:
    return OutgoingMessage(channel=channel, address=address, **kwargs)  # type: ignore[arg-type]


# --- webhook / shared HTTP helper -------------------------------------------------------


def test_webhook_posts_subject_body_payload(http_receiver: HttpReceiver) -> None:
    payload = {"case_id": 42, "area": "主城区", "deadline_min": 30}
    WebhookChannel().send(
        msg("webhook", http_receiver.url + "/hooks/case", subject=SUBJECT_ZH, body=BODY_ZH,
            payload=payload, message_id="notification-7")
    )
    [request] = http_receiver.requests
    assert request.method == "POST"
    assert request.path == "/hooks/case"
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["x-caseflow-message-id"] == "notification-7"
    assert request.json() == {"subject": SUBJECT_ZH, "body": BODY_ZH, "payload": payload}


def test_webhook_accepts_any_2xx(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(204, b"")
    WebhookChannel().send(msg("webhook", http_receiver.url))
    assert len(http_receiver.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_webhook_server_errors_are_retryable(http_receiver: HttpReceiver, status: int) -> None:
    http_receiver.reply_with(status, "upstream broke")
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel().send(msg("webhook", http_receiver.url + "/h"))
    assert caught.value.retryable is True
    assert f"HTTP {status}" in str(caught.value)
    assert "upstream broke" in str(caught.value)  # the body helps whoever reads last_error


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_webhook_client_errors_are_not_retryable(http_receiver: HttpReceiver, status: int) -> None:
    http_receiver.reply_with(status, {"error": "bad request"})
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel().send(msg("webhook", http_receiver.url + "/h"))
    assert caught.value.retryable is False
    assert f"HTTP {status}" in caught.value.message


def test_webhook_connection_refused_is_retryable() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel().send(msg("webhook", url))
    assert caught.value.retryable is True
    assert "cannot reach" in caught.value.message


def test_webhook_timeout_is_retryable(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(200, {}, delay_s=0.6)
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel(timeout_s=0.1).send(msg("webhook", http_receiver.url))
    assert caught.value.retryable is True


def test_webhook_redirect_is_not_followed(http_receiver: HttpReceiver) -> None:
    # urllib would re-send a redirected POST as a GET without body; we refuse instead.
    http_receiver.reply_with(302, b"", headers={"Location": "/elsewhere"})
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel().send(msg("webhook", http_receiver.url + "/old"))
    assert caught.value.retryable is False
    assert [r.path for r in http_receiver.requests] == ["/old"]


@pytest.mark.parametrize("address", ["file:///etc/passwd", "ftp://example.org/x", "not a url", ""])
def test_webhook_rejects_non_http_addresses(address: str) -> None:
    with pytest.raises(DeliveryError) as caught:
        WebhookChannel().send(msg("webhook", address))
    assert caught.value.retryable is False


def test_post_json_unserialisable_payload_is_not_retryable(http_receiver: HttpReceiver) -> None:
    with pytest.raises(DeliveryError) as caught:
        post_json(http_receiver.url, {"when": object()})
    assert caught.value.retryable is False
    assert http_receiver.requests == []


# --- SMS ----------------------------------------------------------------------------------


def test_sms_posts_phone_and_text_with_bearer(http_receiver: HttpReceiver) -> None:
    channel = SmsChannel(http_receiver.url + "/sms/send", token="tok-123")
    channel.send(msg("sms", " 13800138000 ", subject="ignored", body=BODY_ZH))
    [request] = http_receiver.requests
    assert request.path == "/sms/send"
    assert request.headers["authorization"] == "Bearer tok-123"
    assert request.json() == {"phone": "13800138000", "text": BODY_ZH}


def test_sms_without_token_sends_no_authorization(http_receiver: HttpReceiver) -> None:
    SmsChannel(http_receiver.url).send(msg("sms", "13800138000", body="hi"))
    assert "authorization" not in http_receiver.requests[0].headers


def test_sms_gateway_errors_are_classified(http_receiver: HttpReceiver) -> None:
    channel = SmsChannel(http_receiver.url, token="t")
    http_receiver.reply_with(503)
    with pytest.raises(DeliveryError) as caught:
        channel.send(msg("sms", "13800138000", body="x"))
    assert caught.value.retryable is True
    http_receiver.reply_with(400, {"error": "invalid phone"})
    with pytest.raises(DeliveryError) as caught:
        channel.send(msg("sms", "13800138000", body="x"))
    assert caught.value.retryable is False


def test_sms_empty_phone_is_not_retryable(http_receiver: HttpReceiver) -> None:
    with pytest.raises(DeliveryError) as caught:
        SmsChannel(http_receiver.url).send(msg("sms", "  ", body="x"))
    assert caught.value.retryable is False
    assert http_receiver.requests == []


# --- WeCom group robot --------------------------------------------------------------------


def robot_url(receiver: HttpReceiver) -> str:
    return receiver.url + "/cgi-bin/webhook/send?key=SECRET-ROBOT-KEY"


def test_wecom_text_success(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(200, {"errcode": 0, "errmsg": "ok"})
    WeComRobotChannel().send(
        msg("wecom", robot_url(http_receiver), subject=SUBJECT_ZH, body=BODY_ZH,
            payload={"mentioned_mobile_list": ["13800138000"]})
    )
    [request] = http_receiver.requests
    assert request.path == "/cgi-bin/webhook/send?key=SECRET-ROBOT-KEY"
    assert request.json() == {
        "msgtype": "text",
        "text": {"content": f"{SUBJECT_ZH}\n{BODY_ZH}", "mentioned_mobile_list": ["13800138000"]},
    }


def test_wecom_markdown(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(200, {"errcode": 0, "errmsg": "ok"})
    WeComRobotChannel().send(
        msg("wecom", robot_url(http_receiver), subject="超时预警", body="> 案件 **A-1** 已超时",
            payload={"msgtype": "markdown"})
    )
    assert http_receiver.requests[0].json() == {
        "msgtype": "markdown",
        "markdown": {"content": "**超时预警**\n> 案件 **A-1** 已超时"},
    }


def test_wecom_long_content_is_cut_to_the_byte_limit(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(200, {"errcode": 0, "errmsg": "ok"})
    WeComRobotChannel().send(msg("wecom", robot_url(http_receiver), body="城运" * 2000))
    content = http_receiver.requests[0].json()["text"]["content"]
    assert len(content.encode("utf-8")) <= MAX_CONTENT_BYTES["text"]
    assert content.startswith("城运城运") and content.endswith("…")


def test_wecom_rate_limited_is_retryable(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(200, {"errcode": 45009, "errmsg": "api freq out of limit"})
    with pytest.raises(DeliveryError) as caught:
        WeComRobotChannel().send(msg("wecom", robot_url(http_receiver), body="x"))
    assert caught.value.retryable is True
    assert "45009" in caught.value.message


def test_wecom_invalid_key_is_not_retryable(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
    with pytest.raises(DeliveryError) as caught:
        WeComRobotChannel().send(msg("wecom", robot_url(http_receiver), body="x"))
    assert caught.value.retryable is False
    assert "93000" in caught.value.message


def test_wecom_errors_do_not_leak_the_robot_key(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(404, "not found")
    with pytest.raises(DeliveryError) as caught:
        WeComRobotChannel().send(msg("wecom", robot_url(http_receiver), body="x"))
    assert "SECRET-ROBOT-KEY" not in caught.value.message


def test_wecom_non_json_answer_is_retryable(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(200, "<html>gateway</html>", headers={"Content-Type": "text/html"})
    with pytest.raises(DeliveryError) as caught:
        WeComRobotChannel().send(msg("wecom", robot_url(http_receiver), body="x"))
    assert caught.value.retryable is True


def test_wecom_unknown_msgtype_is_not_retryable(http_receiver: HttpReceiver) -> None:
    with pytest.raises(DeliveryError) as caught:
        WeComRobotChannel().send(
            msg("wecom", robot_url(http_receiver), body="x", payload={"msgtype": "news"})
        )
    assert caught.value.retryable is False
    assert http_receiver.requests == []


# --- 110 linkage center -------------------------------------------------------------------


def test_linkage110_posts_payload_with_bearer(http_receiver: HttpReceiver) -> None:
    payload = {
        "instruction_no": "110-2024-0001",
        "kind": "arrival",
        "arrived_at": "2024-05-01T10:12:00+08:00",
        "situation": "已到场，现场已设置警示",
    }
    Linkage110Channel(http_receiver.url + "/api/feedback", token="city-token").send(
        msg("linkage_110", "110-2024-0001", subject="到场反馈", body="", payload=payload,
            message_id="n-99")
    )
    [request] = http_receiver.requests
    assert request.path == "/api/feedback"
    assert request.headers["authorization"] == "Bearer city-token"
    assert request.headers["x-caseflow-message-id"] == "n-99"
    assert request.json() == payload


def test_linkage110_unauthorised_is_not_retryable(http_receiver: HttpReceiver) -> None:
    http_receiver.reply_with(401, {"error": "bad token"})
    with pytest.raises(DeliveryError) as caught:
        Linkage110Channel(http_receiver.url, token="wrong").send(msg("linkage_110", "x"))
    assert caught.value.retryable is False


# --- e-mail -------------------------------------------------------------------------------


def email_channel(smtp: SmtpReceiver, **kwargs: object) -> EmailChannel:
    options: dict[str, object] = {"from_addr": "城运中心 <noreply@caseflow.example>"}
    options.update(kwargs)
    return EmailChannel(host=smtp.host, port=smtp.port, **options)  # type: ignore[arg-type]


def test_email_chinese_subject_and_body_arrive_intact(smtp_receiver: SmtpReceiver) -> None:
    email_channel(smtp_receiver).send(
        msg("email", "duty@example.org", subject=SUBJECT_ZH, body=BODY_ZH, message_id="n-5")
    )
    [mail] = smtp_receiver.messages
    assert mail.mail_from == "noreply@caseflow.example"
    assert mail.rcpt_tos == ["duty@example.org"]
    assert mail.content.isascii()  # RFC 2047 headers and base64 body: 7-bit clean
    parsed = mail.message
    assert parsed["Subject"] == SUBJECT_ZH
    assert parsed["From"].addresses[0].display_name == "城运中心"
    assert parsed["To"] == "duty@example.org"
    assert parsed["X-Caseflow-Message-Id"] == "n-5"
    assert parsed["Message-ID"].endswith("@caseflow.example>")
    assert parsed.get_content().rstrip("\n") == BODY_ZH


def test_email_logs_in_when_user_is_set(smtp_receiver: SmtpReceiver) -> None:
    email_channel(smtp_receiver, username="notify", password="s3cret").send(
        msg("email", "duty@example.org", subject="test", body="plain ascii")
    )
    [mail] = smtp_receiver.messages
    assert mail.login == "notify"
    assert mail.message.get_content().rstrip("\n") == "plain ascii"


def test_email_wrong_password_is_not_retryable(smtp_receiver: SmtpReceiver) -> None:
    with pytest.raises(DeliveryError) as caught:
        email_channel(smtp_receiver, username="notify", password="wrong").send(
            msg("email", "duty@example.org", subject="x", body="x")
        )
    assert caught.value.retryable is False
    assert smtp_receiver.messages == []


def test_email_multiline_subject_is_folded_into_one_line(smtp_receiver: SmtpReceiver) -> None:
    email_channel(smtp_receiver).send(
        msg("email", "duty@example.org", subject="第一行\nBcc: victim@example.org", body="x")
    )
    parsed = smtp_receiver.messages[0].message
    assert parsed["Subject"] == "第一行 Bcc: victim@example.org"
    assert parsed["Bcc"] is None


@pytest.mark.parametrize(
    ("address", "retryable"), [("nobody@example.org", False), ("busy@example.org", True)]
)
def test_email_refused_recipient(
    smtp_receiver: SmtpReceiver, address: str, retryable: bool
) -> None:
    with pytest.raises(DeliveryError) as caught:
        email_channel(smtp_receiver).send(msg("email", address, subject="x", body="x"))
    assert caught.value.retryable is retryable
    assert smtp_receiver.messages == []


def test_email_invalid_address_is_not_retryable(smtp_receiver: SmtpReceiver) -> None:
    with pytest.raises(DeliveryError) as caught:
        email_channel(smtp_receiver).send(msg("email", "not-an-address", subject="x", body="x"))
    assert caught.value.retryable is False


def test_email_starttls_unsupported_is_not_retryable(smtp_receiver: SmtpReceiver) -> None:
    with pytest.raises(DeliveryError) as caught:
        email_channel(smtp_receiver, starttls=True).send(msg("email", "duty@example.org"))
    assert caught.value.retryable is False


def test_email_server_down_is_retryable() -> None:
    channel = EmailChannel(host="127.0.0.1", port=free_port(), from_addr="noreply@caseflow.example")
    with pytest.raises(DeliveryError) as caught:
        channel.send(msg("email", "duty@example.org", subject="x", body="x"))
    assert caught.value.retryable is True


# --- registry, retry policy -------------------------------------------------------------


def test_build_channels_without_settings_has_only_address_based_channels() -> None:
    channels = build_channels({})
    assert set(channels) == {"webhook", "wecom"}
    assert all(isinstance(c, Channel) for c in channels.values())


def test_build_channels_omits_partially_configured_channels() -> None:
    channels = build_channels(
        {
            "NOTIFY_SMTP_HOST": "smtp.example.org",  # no NOTIFY_SMTP_FROM
            "NOTIFY_SMS_URL": "",  # empty env override counts as unset
            "NOTIFY_SMS_TOKEN": "t",
            "NOTIFY_LINKAGE110_URL": "https://110.example.gov.cn/feedback",  # no token
        }
    )
    assert set(channels) == {"webhook", "wecom"}


def test_build_channels_full_config_from_strings() -> None:
    channels = build_channels(
        {
            "NOTIFY_HTTP_TIMEOUT_S": "2.5",
            "NOTIFY_SMTP_HOST": "smtp.example.org",
            "NOTIFY_SMTP_PORT": "587",
            "NOTIFY_SMTP_FROM": "noreply@example.org",
            "NOTIFY_SMTP_USER": "notify",
            "NOTIFY_SMTP_PASSWORD": "pw",
            "NOTIFY_SMTP_STARTTLS": "true",
            "NOTIFY_SMS_URL": "https://sms.example.org/send",
            "NOTIFY_SMS_TOKEN": "sms-token",
            "NOTIFY_LINKAGE110_URL": "https://110.example.gov.cn/feedback",
            "NOTIFY_LINKAGE110_TOKEN": "city-token",
        }
    )
    assert set(channels) == {"webhook", "wecom", "email", "sms", "linkage_110"}
    assert all(name == channel.name for name, channel in channels.items())
    email = channels["email"]
    assert isinstance(email, EmailChannel)
    assert (email.host, email.port) == ("smtp.example.org", 587)
    assert (email.starttls, email.use_ssl) == (True, False)
    assert (email.username, email.password) == ("notify", "pw")
    sms = channels["sms"]
    assert isinstance(sms, SmsChannel) and sms.token == "sms-token" and sms.timeout_s == 2.5
    assert isinstance(channels["webhook"], WebhookChannel) and channels["webhook"].timeout_s == 2.5


def test_build_channels_smtp_ssl_defaults_to_port_465() -> None:
    channels = build_channels(
        {
            "NOTIFY_SMTP_HOST": "smtp.exmail.qq.com",
            "NOTIFY_SMTP_FROM": "a@b.cn",
            "NOTIFY_SMTP_SSL": "1",
        }
    )
    email = channels["email"]
    assert isinstance(email, EmailChannel) and email.port == 465 and email.use_ssl


@pytest.mark.parametrize(
    "config",
    [
        {"NOTIFY_HTTP_TIMEOUT_S": "soon"},
        {"NOTIFY_HTTP_TIMEOUT_S": "0"},
        {"NOTIFY_SMTP_HOST": "h", "NOTIFY_SMTP_FROM": "a@b.cn", "NOTIFY_SMTP_STARTTLS": "maybe"},
        {"NOTIFY_SMTP_HOST": "h", "NOTIFY_SMTP_FROM": "a@b.cn", "NOTIFY_SMTP_PORT": "25.5"},
    ],
)
def test_build_channels_rejects_malformed_settings(config: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        build_channels(config)


def test_channels_from_registry_deliver(
    http_receiver: HttpReceiver, smtp_receiver: SmtpReceiver
) -> None:
    channels = build_channels(
        {
            "NOTIFY_SMS_URL": http_receiver.url + "/sms",
            "NOTIFY_SMS_TOKEN": "sms-token",
            "NOTIFY_LINKAGE110_URL": http_receiver.url + "/110",
            "NOTIFY_LINKAGE110_TOKEN": "city-token",
            "NOTIFY_SMTP_HOST": smtp_receiver.host,
            "NOTIFY_SMTP_PORT": str(smtp_receiver.port),
            "NOTIFY_SMTP_FROM": "noreply@caseflow.example",
        }
    )
    channels["sms"].send(msg("sms", "13800138000", body="到场提醒"))
    channels["linkage_110"].send(msg("linkage_110", "110-1", payload={"kind": "result"}))
    channels["email"].send(msg("email", "duty@example.org", subject="交接班", body="晨会 08:30"))
    assert [(r.path, r.headers["authorization"]) for r in http_receiver.requests] == [
        ("/sms", "Bearer sms-token"),
        ("/110", "Bearer city-token"),
    ]
    assert smtp_receiver.messages[0].message["Subject"] == "交接班"


def test_backoff_doubles_from_ten_seconds_and_caps_at_fifteen_minutes() -> None:
    assert [backoff_seconds(n) for n in range(1, 8)] == [10, 20, 40, 80, 160, 320, 640]
    assert backoff_seconds(8) == 900 == BACKOFF_CAP_S
    assert backoff_seconds(1000) == 900
    delays = [backoff_seconds(n) for n in range(0, 50)]
    assert delays == sorted(delays)
    assert backoff_seconds(0) == backoff_seconds(-3) == 10  # defensive: never zero or negative
    assert backoff_seconds(5) == backoff_seconds(5)  # deterministic, no jitter


def test_max_attempts() -> None:
    assert MAX_ATTEMPTS == 8
