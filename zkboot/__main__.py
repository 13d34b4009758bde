from zkboot.entry import main

main()
