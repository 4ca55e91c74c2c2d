#!/bin/sh
# unit.t: the C unit tests of every shared module (tests/unit/).
exec "$(dirname "$0")/bin/unit"
