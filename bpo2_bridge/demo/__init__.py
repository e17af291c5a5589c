"""The deterministic BPO2-like demo source."""

from .content import (
    BENCH_CONTRACT_NO,
    BENCH_CUSTOMER_ACCOUNT,
    DEMO_ADMIN_LOGIN,
    DEMO_OTHER_SALESMAN_LOGIN,
    DEMO_SALESMAN_LOGIN,
    SIZES,
)
from .generate import DemoError, DemoSummary, build_demo, build_demo_file

__all__ = [
    "BENCH_CONTRACT_NO",
    "BENCH_CUSTOMER_ACCOUNT",
    "DEMO_ADMIN_LOGIN",
    "DEMO_OTHER_SALESMAN_LOGIN",
    "DEMO_SALESMAN_LOGIN",
    "SIZES",
    "DemoError",
    "DemoSummary",
    "build_demo",
    "build_demo_file",
]
