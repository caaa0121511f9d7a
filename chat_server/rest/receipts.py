"""``/api/v1/payments/{thread_id}/receipt``: a printable HTML receipt of a paid chat.

Plain HTML with no script, style or image, so the API's strict policy
(``default-src 'none'; frame-ancestors 'none'``, rest/headers.py) serves it as is;
the browser's print dialog makes the PDF. The legal fields: the seller (name,
address, VAT number, from the settings), the receipt number (the thread id), the
date of supply (the first reply), the service, the amount in integer cents shown
as a decimal, the currency and the VAT treatment. Nothing of the conversation.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

from chat_server.appkeys import PAID_CHATS, SETTINGS
from chat_server.model.paid_chats import PaidChat
from chat_server.rest.auth import principal
from chat_server.rest.panels import ID
from chat_server.settings import Settings
from payments.checkout import PRODUCT_NAME

# Belgian VAT Code art. 44 §1: medical care by a physician is exempt from VAT.
VAT_NOTE = "Exempt from VAT: medical care (Belgian VAT Code, art. 44 §1)."


def amount_text(cents: int, currency: str) -> str:
    """Integer cents as a decimal, never through a float."""
    return f"{cents // 100}.{cents % 100:02d} {currency.upper()}"


def receipt_html(chat: PaidChat, settings: Settings) -> str:
    supplied = chat.window_starts_at or chat.queued_at or chat.created_at
    rows = [
        ("Seller", settings.payments_seller),
        ("Address", settings.payments_seller_address),
        ("VAT number", settings.payments_seller_vat_id),
        ("Receipt number", chat.thread_id),
        ("Date of supply", supplied.date().isoformat()),
        ("Service", PRODUCT_NAME),
        ("Amount paid", amount_text(chat.charged_cents, chat.currency)),
        ("VAT", VAT_NOTE),
    ]
    body = "\n".join(
        f'<tr><th scope="row">{escape(k)}</th><td>{escape(v)}</td></tr>' for k, v in rows if v
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Receipt {escape(chat.thread_id)}</title></head><body>"
        f"<h1>Receipt</h1><table>{body}</table></body></html>"
    )


async def receipt(request: web.Request) -> web.Response:
    who = await principal(request)
    chat = await request.app[PAID_CHATS].receipt(who, request.match_info["thread_id"])
    return web.Response(text=receipt_html(chat, request.app[SETTINGS]), content_type="text/html")


def add_routes(app: web.Application) -> None:
    app.router.add_get(
        f"/api/v1/payments/{ID % 'thread_id'}/receipt", receipt, name="payment_receipt"
    )
