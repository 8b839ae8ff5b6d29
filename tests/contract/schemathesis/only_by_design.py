"""Reads the report of a Schemathesis run made without the project's hooks (tests/contract/run)
and fails unless every failure is one of the classes listed here as by design.

Without hooks Schemathesis draws a 全国地方公共団体コード as any six digits. The gateway refuses a
code whose first two digits are no prefecture or whose sixth digit is not its check digit
(400 invalid_lg_code); the check digit is a weighted sum modulo 11, which no JSON Schema
keyword can state, so the contract cannot tell the generator. Every other failure is a
finding."""

import re
import sys

BY_DESIGN = {
    # (check, problem code): why
    ("ST202", "invalid_lg_code"): "a generated lgCode without its check digit or prefecture",
}


def failures(report: str) -> list[tuple[str, set[str], set[str]]]:
    """One entry per failing test case: an operation's block may hold several
    ("1. Test Case ID: …", "2. Test Case ID: …"), each counted by the summary."""
    if "FAILURES" not in report:
        return []
    section = report.split("FAILURES", 1)[1].split("WARNINGS", 1)[0]
    blocks = re.split(r"\n_{3,} (.+?) _{3,}\n", section)
    out = []
    # re.split with one group: [before, title, body, title, body, ...]
    for title, body in zip(blocks[1::2], blocks[2::2]):
        cases = re.split(r"^\d+\. Test Case ID: \S+$", body, flags=re.M)[1:]
        for case in cases or [body]:
            checks = set(re.findall(r"^- (ST\d+)", case, re.M))
            codes = set(re.findall(r'"code":"([a-z_]+)"', case))
            out.append((title.strip(), checks, codes))
    return out


def main() -> int:
    report = open(sys.argv[1], encoding="utf-8").read()
    if not re.search(r"\d+ generated", report):
        print("only_by_design: the run did not finish (no count of generated cases)")
        return 1
    found = failures(report)
    summary = re.search(r"(\d+) found (\d+) unique failures?", report)
    if summary and int(summary.group(2)) != len(found):
        print(f"only_by_design: the report names {summary.group(2)} failures, {len(found)} read")
        return 1
    unexplained = [
        (title, checks, codes)
        for title, checks, codes in found
        if not checks or not codes
        or any((c, code) not in BY_DESIGN for c in checks for code in codes)
    ]
    for title, checks, codes in unexplained:
        print(f"only_by_design: not by design: {title}: {sorted(checks)} {sorted(codes)}")
    print(f"only_by_design: {len(found)} failures without hooks, {len(found) - len(unexplained)} by design")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
