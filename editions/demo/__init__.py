"""The offline demo: a local news site and a script that archives it twice."""
