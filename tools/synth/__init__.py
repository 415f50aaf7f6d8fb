"""Synthetic-athlete generator: exact squat/deadlift kinematics and a headless renderer.

``kinematics`` and ``body`` need numpy only; ``render``, ``make_samples`` and
``check_samples`` need the ``synth`` extra (see docs/synthetic.md).
"""
