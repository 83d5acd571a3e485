from dlpsim.cli import main

main()
