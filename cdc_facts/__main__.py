"""`python -m cdc_facts` runs the command line."""

from cdc_facts.cli import main

if __name__ == "__main__":
    main()
