#!/usr/bin/env bash
# The C sources follow .clang-format (STYLE.md); this fails listing the files that do not.
set -euo pipefail
cd "${LF_SOURCE_ROOT:-$(dirname "$0")/..}"
if ! command -v clang-format >/dev/null; then
	echo "clang-format is not installed" >&2
	[ "${LF_TEST_MUST_WORK:-0}" = 1 ] && exit 1
	exit 77
fi
bad=()
while IFS= read -r f; do
	clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
if [ ${#bad[@]} -gt 0 ]; then
	echo "not formatted (run clang-format -i): ${bad[*]}" >&2
	exit 1
fi
echo "all C sources formatted"
