#!/usr/bin/env bash
# Refresh the web application's vendored front-end assets from the npm registry:
#   GOV.UK Frontend and MoJ Frontend (MIT) -> src/bold_prevention/app/static/
# The compiled files are committed, so `bold serve` and `make demo` never download anything; run this script only to
# move to new versions (edit the two pins below), then commit the result.
#
# What it copies: the precompiled CSS and JavaScript (ES modules), and the images the CSS refers to. It leaves out the
# GDS Transport font, which is licensed for services on the GOV.UK domain only: its @font-face rules are removed and
# text falls back to Arial, as the GOV.UK Frontend guidance asks of services outside GOV.UK.
set -euo pipefail
GOVUK_FRONTEND_VERSION=6.6.0
MOJ_FRONTEND_VERSION=11.1.0

cd "$(dirname "$0")/.."
dest=src/bold_prevention/app/static
command -v npm >/dev/null 2>&1 || { echo "npm is needed (apt-get install -y npm)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "govuk-frontend@${GOVUK_FRONTEND_VERSION}" \
   "@ministryofjustice/frontend@${MOJ_FRONTEND_VERSION}" >/dev/null)
mkdir -p "$work/govuk" "$work/moj"
tar xzf "$work/govuk-frontend-${GOVUK_FRONTEND_VERSION}.tgz" -C "$work/govuk"
tar xzf "$work/ministryofjustice-frontend-${MOJ_FRONTEND_VERSION}.tgz" -C "$work/moj"

python3 - "$work" "$dest" "$GOVUK_FRONTEND_VERSION" "$MOJ_FRONTEND_VERSION" <<'PY'
import re
import shutil
import sys
from pathlib import Path

work, dest, gv, mv = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
g = work / "govuk/package/dist/govuk"
m = work / "moj/package/moj"
for sub in ("govuk", "moj", "images"):
    shutil.rmtree(dest / sub, ignore_errors=True)
    (dest / sub).mkdir(parents=True)


def css(src: Path, out: Path) -> str:
    text = src.read_text(encoding="utf-8")
    text = re.sub(r"@font-face\{font-family:GDS Transport;[^}]*\}", "", text)
    text = text.replace("font-family:GDS Transport,arial,sans-serif", "font-family:arial,sans-serif")
    text = text.replace("font-family:GDS Transport", "font-family:arial,sans-serif")
    text = re.sub(r"/\*# sourceMappingURL=.*?\*/", "", text)
    assert "GDS Transport" not in text and "/assets/fonts/" not in text
    out.write_text(text, encoding="utf-8")
    return text


def js(src: Path, out: Path) -> None:
    text = src.read_text(encoding="utf-8")
    out.write_text(re.sub(r"//# sourceMappingURL=\S+\s*$", "", text), encoding="utf-8")


texts = [css(g / "govuk-frontend.min.css", dest / "govuk/govuk-frontend.min.css"),
         css(m / "moj-frontend.min.css", dest / "moj/moj-frontend.min.css")]
js(g / "govuk-frontend.min.js", dest / "govuk/govuk-frontend.min.js")
js(m / "moj-frontend.min.js", dest / "moj/moj-frontend.min.js")
wanted = {"favicon.ico", "favicon.svg"}
for t in texts:
    wanted |= set(re.findall(r"url\(/assets/images/([^)]+)\)", t))
for name in sorted(wanted):
    src = g / "assets/images" / name
    if not src.exists():
        src = m / "assets/images" / name
    shutil.copyfile(src, dest / "images" / name)

mit = """Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation the
rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit
persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the
Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE
WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR
COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR
OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""
(dest / "govuk/LICENSE.txt").write_text(
    f"GOV.UK Frontend {gv} (npm `govuk-frontend`), https://github.com/alphagov/govuk-frontend\n\n"
    "The MIT License (MIT)\n\nCopyright (c) 2018 Crown Copyright (Government Digital Service)\n\n" + mit,
    encoding="utf-8")
(dest / "moj/LICENSE.txt").write_text(
    f"MoJ Frontend {mv} (npm `@ministryofjustice/frontend`), https://github.com/ministryofjustice/moj-frontend\n\n"
    "The MIT License (MIT)\n\nCopyright (c) 2019 Crown Copyright (Ministry of Justice)\n\n" + mit,
    encoding="utf-8")
(dest / "images/README.txt").write_text(
    f"Images from GOV.UK Frontend {gv} and MoJ Frontend {mv} (MIT; see ../govuk/LICENSE.txt and "
    "../moj/LICENSE.txt), copied by scripts/vendor-frontend-assets.sh.\n", encoding="utf-8")
print(f"vendored GOV.UK Frontend {gv} and MoJ Frontend {mv} into {dest} ({len(wanted)} images)")
PY
