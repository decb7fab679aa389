"""Padded-token fraction of the smart_reply training pipeline, with and without bucketing.

Usage: python benchmarks/padding.py [--set data.train=... ...]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    import seqtasks

    recipe = seqtasks.get_recipe("smart_reply")
    print("| bucketing | padded fraction of training tokens |")
    print("|---|---|")
    for bucketing in (False, True):
        flag = f"train.bucketing={str(bucketing).lower()}"
        task = recipe(recipe.default_config([*args.overrides, flag]))
        task.build_datasets()
        print(f"| {bucketing} | {task.summary['padded_fraction']:.1%} |")


if __name__ == "__main__":
    main()
