"""``python -m labs``: the lab catalogue (see keras_dyn.catalogue)."""

import sys

from keras_dyn.catalogue import main

if __name__ == "__main__":
    sys.exit(main())
