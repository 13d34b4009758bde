"""The start pipeline.

settings -> identity -> installation -> heap -> rendered files and JVM flags -> checks -> writes -> exec.
"""
