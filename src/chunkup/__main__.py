from chunkup.cli import main

main()
