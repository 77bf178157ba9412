"""iopstats.stats"""
