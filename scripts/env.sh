# Sourced by the scripts: one build configuration (release, all features) for the main job, the
# lint gate, the tests and the benches, in a target dir outside the clone so CI runs can reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/leaklab-target}"
# The notebooks' Python packages (scripts/setup creates it; tests/notebooks.rs uses it).
export LEAKLAB_VENV="${LEAKLAB_VENV:-$HOME/.cache/leaklab-venv}"
