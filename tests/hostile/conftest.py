from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# "ci" is the default; HYPOTHESIS_PROFILE=long runs many more examples (the fuzzing run uses bench/fuzz.py).
settings.register_profile(
    "ci",
    deadline=None,  # a loaded 2-core machine makes per-example deadlines flaky; targets bound time themselves
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no .hypothesis/ folder in the repository; a failure prints its reproduction blob
    print_blob=True,
)
settings.register_profile("long", parent=settings.get_profile("ci"), max_examples=5000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
