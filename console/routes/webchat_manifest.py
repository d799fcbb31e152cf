"""The web chat as a home-screen app: a manifest for each private chat link, in the young person's language."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from console.deps import RuntimeDep, SessionDep
from console.routes.webchat import RTL_LANGUAGES, _chat

router = APIRouter(prefix="/c")
BRAND = "#2f5d50"
BACKGROUND = "#eef2f1"


@router.get("/{token}/manifest.webmanifest")
async def read_webchat_manifest(rt: RuntimeDep, session: SessionDep, token: str) -> Response:
    """Describe the chat as an installable app that opens straight into this young person's own chat."""
    chat = await _chat(session, token)
    if chat is None:
        return Response("No such chat.", status_code=404)
    _, young_person, worker = chat
    language = young_person.language
    start = f"/c/{token}"
    manifest = {
        "id": start,
        "name": rt.content.text("webchat.app_name", language, worker=worker.display_name),
        "short_name": rt.content.text("webchat.app_short_name", language),
        "start_url": start,
        "scope": start,
        "display": "standalone",
        "orientation": "portrait",
        "lang": language,
        "dir": "rtl" if language in RTL_LANGUAGES else "ltr",
        "theme_color": BRAND,
        "background_color": BACKGROUND,
        "icons": [
            {"src": "/static/icons/chat-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any maskable"},
            {"src": "/static/icons/chat-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
        ],
    }
    return JSONResponse(
        manifest, media_type="application/manifest+json",
        headers={"Cache-Control": "no-store", "X-Robots-Tag": "noindex"},
    )
