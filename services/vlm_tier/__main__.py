"""`python -m services.vlm_tier --tier fast|power|precision` (same as `roadwatch run vlm --tier ...`)."""

import argparse

from roadwatch.logs import setup_logging
from roadwatch.serving import run_until_signalled
from roadwatch.settings import kafka_settings_from_env
from services.vlm_tier.service import run
from services.vlm_tier.settings import tier_settings

parser = argparse.ArgumentParser(prog="python -m services.vlm_tier")
parser.add_argument("--tier", choices=["fast", "power", "precision"], required=True)
args = parser.parse_args()
setup_logging()
settings, kafka = tier_settings(args.tier), kafka_settings_from_env()
run_until_signalled(lambda stop: run(settings, kafka, stop))
