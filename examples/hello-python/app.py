"""A tiny application used by the She-Ra examples."""


def greet(name: str) -> str:
    return f"Hello, {name}!"


if __name__ == "__main__":
    print(greet("She-Ra"))
