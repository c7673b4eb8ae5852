"""The therapist's morning, in Debian's Chromium driven by Playwright, against the demo clinic.

Screenshots go to test-artifacts/ (gitignored). STRIDE_UPDATE_SCREENSHOTS=1 also refreshes the
README's docs/screenshots/overview.png.
"""

import csv
import io
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connections

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
README_SCREENSHOT = Path(settings.BASE_DIR) / "docs" / "screenshots" / "overview.png"
TIMEOUT_MS = 15_000

pytestmark = [
    pytest.mark.browser,
    # The live server runs in another thread: real transactions. An earlier transactional
    # test may have flushed the exercise library (a data migration): `shipped_library` loads
    # it again.
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def demo_clinic(monkeypatch, shipped_library):
    # In a transactional test every seeded session runs its alert check on commit (~900 of
    # them, most of the seeding time); seed_demo opens the demo's alerts itself.
    monkeypatch.setattr("programs.services._after_session_recorded", lambda session_id: None)
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def browser_page(monkeypatch):
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are
    # still synchronous, so Django's async-safety guard must stand aside.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": 1366, "height": 900}, accept_downloads=True
        )
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.problems = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                page.problems.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        yield page
        context.close()
        browser.close()


def save_screenshot(page, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # links to #alerts scroll; the top bar is sticky
    page.screenshot(path=str(path), full_page=full_page)
    return path


def test_therapist_reviews_a_red_flag_patient(live_server, demo_clinic, browser_page):
    try:
        therapist_reviews_a_red_flag_patient(live_server, browser_page)
    finally:
        # ORM calls made while Playwright's loop runs get their own connection, which only
        # this context can close; left open, it stops the test database from being dropped.
        connections.close_all()


def therapist_reviews_a_red_flag_patient(live_server, page):
    from programs.models import Alert, Prescription

    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "therapist")
    page.fill("#id_password", "stride-demo")
    page.click("button[type=submit]")

    # The overview: the red flag leads the needs-attention panel.
    page.wait_for_selector("h1:text('Patients')")
    first_alert = page.locator(".attention-item").first
    assert "Red flag" in first_alert.inner_text()
    assert page.locator("table.patients tbody tr").count() >= 20
    save_screenshot(page, "overview")
    first_screen = save_screenshot(page, "overview-first-screen", full_page=False)
    if os.environ.get("STRIDE_UPDATE_SCREENSHOTS"):
        shutil.copyfile(first_screen, README_SCREENSHOT)

    # Open the patient from the alert.
    first_alert.locator("a.attention-patient").click()
    page.wait_for_selector("h1:text('Evelyn Park')")
    red_flag = Alert.objects.get(kind="red_flag", acknowledged_at__isnull=True)
    assert red_flag.patient.full_name == "Evelyn Park"

    # The pain chart is drawn by our static plotly.js, with its traces.
    page.wait_for_selector("#chart-pain[data-rendered]")
    assert page.evaluate("document.querySelector('#chart-pain').data.length > 0")
    assert page.evaluate("document.querySelector('#chart-pain').data[2].name") == "7-day mean"
    page.wait_for_selector("#chart-adherence[data-rendered]")
    page.wait_for_selector("#chart-outcomes[data-rendered]")
    assert page.evaluate("document.querySelector('#chart-adherence').data[0].type") == "heatmap"
    assert page.evaluate("document.querySelector('#chart-outcomes').data.length > 0")
    save_screenshot(page, "patient")

    # Acknowledge the red flag with a note.
    alert_card = page.locator(".alert-card", has_text="Red flag")
    alert_card.locator("textarea").fill("Phoned: sent to the GP for a DVT check today.")
    alert_card.get_by_role("button", name="Acknowledge").click()
    page.wait_for_selector(".message:has-text('Red flag alert acknowledged.')")
    red_flag.refresh_from_db()
    assert red_flag.acknowledged_by.username == "therapist"
    assert red_flag.acknowledgement_note.startswith("Phoned")

    # Advance the phase (Evelyn is in week 3 of phase 1: the therapist's call).
    program = Prescription.objects.get(patient=red_flag.patient, status="active")
    assert program.current_phase.order == 1
    page.locator(".advance-form button[type=submit]").click()
    page.wait_for_selector(".message:has-text('Moved to phase')")
    program.refresh_from_db()
    assert program.current_phase.order == 2
    # The page after the change is not the one cached before it: the pain chart marks it.
    page.wait_for_selector("#chart-pain[data-rendered]")
    phase_marks = page.evaluate(
        "document.querySelector('#chart-pain').layout.shapes"
        ".filter(function (shape) { return shape.name === 'Phase change'; }).length"
    )
    assert phase_marks >= 1

    # Export the sessions as CSV.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("stride-sessions-patient-")
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text())))
    assert rows[0][:2] == ["session_id", "performed_at"]
    assert len(rows) > 10

    assert page.problems == []  # type: ignore[attr-defined]
