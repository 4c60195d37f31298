from harmmap.cli import main

main(prog_name="harmmap")
