"""`python -m services.vlm_tier --tier fast|power|precision` (same as `roadwatch run vlm --tier ...`)."""

import argparse

from roadwatch.logs import setup_logging
from schemas.records import VLM_TIERS
from services.vlm_tier.service import main

parser = argparse.ArgumentParser(prog="python -m services.vlm_tier")
parser.add_argument("--tier", choices=VLM_TIERS, required=True)
args = parser.parse_args()
setup_logging()
main(args.tier)
