from netprobe.cli.entry import main

main()
