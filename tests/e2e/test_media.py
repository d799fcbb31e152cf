"""Photos, voice notes, files, stickers and locations from Telegram, as a key worker sees them."""

from __future__ import annotations

import asyncio
import os
import re

import pytest

from tests.conftest import Service
from tests.e2e.test_telegram_behaviour import fast_telegram, handled, link_sam  # noqa: F401
from tests.e2e.test_telegram_loop import SAM_CHAT, invite_for
from tests.fakes.botapi import FakeBotAPI

pytestmark = pytest.mark.usefixtures("fast_telegram")

PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(3000) + b"\xff\xd9"
VOICE = b"OggS\x00\x02" + os.urandom(2000)
LETTER = b"%PDF-1.4\n" + os.urandom(500)


def media_urls(page: str, tag: str) -> list[str]:
    return re.findall(rf'<{tag}[^>]*\ssrc="(/young-people/\d+/messages/\d+/media)"', page)


async def test_photos_voice_notes_and_files_can_be_seen_and_heard_in_the_console(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    updates = [
        fake.push_photo(SAM_CHAT, PHOTO, caption="my new room"),
        fake.push_voice(SAM_CHAT, VOICE, duration=4),
        fake.push_document(SAM_CHAT, LETTER, file_name="college-letter.pdf"),
        fake.push_sticker(SAM_CHAT, emoji="🥳"),
        fake.push_location(SAM_CHAT, 54.2379, -1.3414),
    ]
    await handled(service, fake, *updates)  # stored, and the files fetched after commit

    page = (await console.get(f"/young-people/{sam_id}")).text
    [photo_url], [voice_url] = media_urls(page, "img"), media_urls(page, "audio")
    assert "my new room" in page
    letter_url = re.search(r'<a href="(/young-people/\d+/messages/\d+/media)">college-letter.pdf</a>', page).group(1)
    assert re.search(r'class="sticker"[^>]*>🥳<', page)
    assert "Shared a location: 54.23790, -1.34140" in page

    for url, data, mime in ((photo_url, PHOTO, "image/jpeg"), (voice_url, VOICE, "audio/ogg"),
                            (letter_url, LETTER, "application/pdf")):
        response = await console.get(url)
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == mime
    assert len(fake.calls("getFile")) == 3  # fetched once each, then served from storage

    # Another key worker cannot open Sam's files, not even through their own young person's address.
    await service.staff("ali", "Ali")
    ali = await service.login("ali")
    lee_id, _ = await invite_for(ali, "Lee Brown", "Lee")
    assert (await ali.get(photo_url)).status_code == 404
    assert (await ali.get(photo_url.replace(f"/young-people/{sam_id}/", f"/young-people/{lee_id}/"))).status_code == 404
    assert (await service.client.get(photo_url)).status_code in (303, 401)  # not signed in at all


async def test_a_photo_telegram_would_not_hand_over_at_first_is_fetched_when_viewed(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    fake.fail_next("getFile", status=502, times=1)
    await handled(service, fake, fake.push_photo(SAM_CHAT, PHOTO))
    [photo_url] = media_urls((await console.get(f"/young-people/{sam_id}")).text, "img")

    fake.fail_next("getFile", status=502, times=1)
    still_down = await console.get(photo_url)
    assert still_down.status_code == 503  # a plain 'try again', not a crash

    # The live page shows the photo as it arrives, so it may be asked for several times at once.
    views = await asyncio.gather(*(console.get(photo_url) for _ in range(3)))
    assert [view.status_code for view in views] == [200, 200, 200]
    assert all(view.content == PHOTO for view in views)
