from sqldistill.cli import main

main()
