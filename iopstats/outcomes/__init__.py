"""iopstats.outcomes"""
