//! (sim: to be written)
