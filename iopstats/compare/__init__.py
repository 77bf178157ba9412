"""iopstats.compare"""
