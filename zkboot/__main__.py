from zkboot.cli.entry import main

main()
