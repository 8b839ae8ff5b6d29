"""Schemathesis hooks for the madoguchi contract run (SCHEMATHESIS_HOOKS=hooks).

`format: lg-code` marks a 全国地方公共団体コード: six digits whose sixth is a check digit, which a
JSON Schema pattern cannot express. This strategy makes codes with the right check digit,
half of them the demo municipality (012084) that the test client acts for."""

import schemathesis
from hypothesis import strategies as st


def with_check_digit(first_five: str) -> str:
    total = sum(int(d) * w for d, w in zip(first_five, (6, 5, 4, 3, 2)))
    return first_five + str((11 - total % 11) % 10)


lg_codes = st.one_of(
    st.just("012084"),
    st.integers(min_value=1000, max_value=47999).map(lambda n: with_check_digit(f"{n:05d}")),
)

schemathesis.openapi.format("lg-code", lg_codes)
