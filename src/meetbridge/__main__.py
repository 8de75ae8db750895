from meetbridge.cli import main

main()
