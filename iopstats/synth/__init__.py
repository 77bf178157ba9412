"""iopstats.synth"""
