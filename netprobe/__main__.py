from netprobe.cli.app import main

main()
