"""iopstats.report"""
