from crisiswatch.cli import main

main()
