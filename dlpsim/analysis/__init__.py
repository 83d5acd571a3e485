"""Reports, tables and plots built from a run's Stats; nothing here runs the simulator."""
