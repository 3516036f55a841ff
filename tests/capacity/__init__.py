"""Tests of `capacity/`: sweeps and knees, search and shrinking, calibration and fitting."""
