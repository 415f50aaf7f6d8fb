"""formcheck: squat and deadlift form checking from video.

Not medical advice: see the report's red flags and disclaimer.
"""

__version__ = "0.1.0"
