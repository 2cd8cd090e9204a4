"""The report as PDF, printed by a headless Chromium (no Python dependency): the HTML report
written to a temporary file and printed with `--print-to-pdf` (A4, Japanese fonts from the
system, e.g. fonts-ipafont-gothic)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class PdfError(RuntimeError):
    """No PDF (message Japanese / English)."""


def browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def html_to_pdf(html: str, out: Path, timeout: float = 120.0) -> None:
    binary = browser()
    if binary is None:
        raise PdfError("PDF の作成には Chromium が必要です (apt-get install chromium)。--html の報告書を"
                       "ブラウザから印刷することもできます / a PDF needs Chromium installed "
                       "(apt-get install chromium); or print the --html report from a browser")
    with tempfile.TemporaryDirectory(prefix="cityos-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, "utf-8")
        target = Path(tmp) / "report.pdf"
        done = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--no-pdf-header-footer", f"--user-data-dir={tmp}/profile",
             f"--print-to-pdf={target}", page.as_uri()],
            capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0 or not target.is_file() or target.stat().st_size == 0:
            raise PdfError(f"PDF を作成できませんでした / the PDF could not be made: "
                           f"{done.stderr.strip()[-300:]}")
        shutil.copyfile(target, out)
