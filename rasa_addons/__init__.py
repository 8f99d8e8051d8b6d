"""Components that run inside the Rasa server (Python 3.10). They import nothing of ours."""
