"""heralding"""
