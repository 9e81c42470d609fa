"""Analysis and assessment (分析研判与考核): indicators, periods, recurring problems,
the five period reports (日研判、周提示、月通报、季分析、年总结), XLSX export and department scores."""
