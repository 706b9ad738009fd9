"""The queue: the only package importing dramatiq; actors take run ids and call ``runs`` services."""
