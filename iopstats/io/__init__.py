"""iopstats.io"""
