"""``python -m lipviz.data``: show the data folder and which registered files are present."""

import sys

from .registry import data_dir, file_status

if __name__ == "__main__":
    sys.stdout.write(f"data folder: {data_dir()}\n")
    sys.stdout.write(file_status().to_string(index=False) + "\n")
